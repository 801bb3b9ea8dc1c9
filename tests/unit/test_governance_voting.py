import pytest

from domain.governance.errors import (
    AlreadyConcluded,
    AlreadyVoted,
    DenyReasonRequired,
    InvalidThreshold,
    NotEligibleVoter,
)
from domain.governance.rules import validate_threshold
from domain.governance.voting import ApprovalState, ApprovalStatus, Vote, cast


def state(threshold=2):
    return ApprovalState(process_id="p", process_type="withdraw", target_ref="w",
                         eligible=["a", "b", "c"], threshold=threshold)


def test_two_of_three_approves():
    s = cast(state(), Vote(voter_id="a", approve=True))
    assert s.status == ApprovalStatus.IN_PROGRESS
    s = cast(s, Vote(voter_id="c", approve=True))
    assert s.status == ApprovalStatus.APPROVED


def test_any_deny_concludes_at_once():
    s = cast(state(), Vote(voter_id="b", approve=False, reason="no collateral"))
    assert s.status == ApprovalStatus.DENIED


@pytest.mark.parametrize("vote,error", [
    (Vote(voter_id="z", approve=True), NotEligibleVoter),
    (Vote(voter_id="b", approve=False, reason="  "), DenyReasonRequired),
    (Vote(voter_id="b", approve=False), DenyReasonRequired),
])
def test_rejected_votes(vote, error):
    with pytest.raises(error):
        cast(state(), vote)


def test_second_vote_and_late_vote_rejected():
    s = cast(state(), Vote(voter_id="a", approve=True))
    with pytest.raises(AlreadyVoted):
        cast(s, Vote(voter_id="a", approve=False, reason="changed my mind"))
    s = cast(s, Vote(voter_id="b", approve=True))
    with pytest.raises(AlreadyConcluded):
        cast(s, Vote(voter_id="c", approve=True))


def test_cast_does_not_mutate_input():
    s = state()
    cast(s, Vote(voter_id="a", approve=True))
    assert s.votes == []


@pytest.mark.parametrize("threshold,size", [(0, 3), (4, 3), (-1, 1)])
def test_invalid_thresholds(threshold, size):
    with pytest.raises(InvalidThreshold):
        validate_threshold(threshold, size)


def test_threshold_equal_to_committee_is_valid():
    validate_threshold(3, 3)
