"""The voting rules of one approval process (pure; used by the workflow's update validator).

Issue rules (they win over lana's silent no-ops): an ineligible voter, a second vote by the same
member, a deny without a reason and any vote after conclusion are rejected with an error. Reaching
the threshold of approvals concludes Approved; any deny concludes Denied at once. Eligible voters
and the threshold are a snapshot taken when the process starts.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from domain.governance.errors import (
    AlreadyConcluded,
    AlreadyVoted,
    ApprovalProcessCancelled,
    DenyReasonRequired,
    NotEligibleVoter,
)


class ApprovalStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"  # its subject ended first (e.g. the withdrawal was cancelled)


class Vote(BaseModel):
    voter_id: str
    approve: bool
    reason: str | None = None
    voted_at: datetime | None = None


class ApprovalState(BaseModel):
    process_id: str
    process_type: str
    target_ref: str
    eligible: list[str]
    threshold: int
    votes: list[Vote] = []
    status: ApprovalStatus = ApprovalStatus.IN_PROGRESS
    ended_reason: str | None = None

    def voted(self, voter_id: str) -> bool:
        return any(v.voter_id == voter_id for v in self.votes)

    @property
    def approvals(self) -> int:
        return sum(1 for v in self.votes if v.approve)


def ensure_open(state: ApprovalState) -> None:
    """Refuse anything but a vote on an open process, saying how it ended."""
    if state.status == ApprovalStatus.CANCELLED:
        raise ApprovalProcessCancelled(f"approval process {state.process_id} was cancelled: {state.ended_reason}")
    if state.status != ApprovalStatus.IN_PROGRESS:
        raise AlreadyConcluded(f"approval process {state.process_id} is already {state.status.value}")


def check_cancel(state: ApprovalState) -> bool:
    """True when the process is open and must end with its subject; False when it already ended
    (cancelled before: an idempotent replay; concluded: the decision stands)."""
    return state.status == ApprovalStatus.IN_PROGRESS


def cancel(state: ApprovalState, reason: str) -> ApprovalState:
    return state.model_copy(update={"status": ApprovalStatus.CANCELLED, "ended_reason": reason})


def check_vote(state: ApprovalState, voter_id: str, approve: bool, reason: str | None) -> None:
    """Raise the error that rejects this vote, or return if it may be recorded."""
    ensure_open(state)
    if voter_id not in state.eligible:
        raise NotEligibleVoter(f"user {voter_id} is not an eligible voter of this process")
    if state.voted(voter_id):
        raise AlreadyVoted(f"user {voter_id} has already voted")
    if not approve and not (reason and reason.strip()):
        raise DenyReasonRequired("a deny vote must give a reason", field="reason")


def conclusion(state: ApprovalState) -> ApprovalStatus:
    if any(not v.approve for v in state.votes):
        return ApprovalStatus.DENIED
    if state.approvals >= state.threshold:
        return ApprovalStatus.APPROVED
    return ApprovalStatus.IN_PROGRESS


def cast(state: ApprovalState, vote: Vote) -> ApprovalState:
    """Check and apply a vote; return the new state (the input is not modified)."""
    check_vote(state, vote.voter_id, vote.approve, vote.reason)
    new = state.model_copy(update={"votes": [*state.votes, vote]})
    new.status = conclusion(new)
    return new
