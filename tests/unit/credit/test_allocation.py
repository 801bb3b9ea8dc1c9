"""Payment allocation (credit.md §8.2, §8.3): the worked example, both strategies' orders, the
defaulted account (spec rule §15 #8), and hypothesis properties of the walk."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.credit.allocation import AllocationStrategy, Owed, allocate, total
from domain.credit.errors import (
    InvalidPaymentAmount,
    PaymentAmountGreaterThanOutstanding,
    PaymentBeforeFacilityActivation,
    PaymentEffectiveInFuture,
)
from domain.credit.obligation import DueDates, Obligation
from domain.credit.payment import check_not_over_outstanding, check_payment_amount, check_payment_effective
from domain.credit.status import ObligationStatus as S
from domain.credit.status import ObligationType as T
from domain.credit.terms import TermValues
from tests.credit_fixtures import terms

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def owed(name: str, kind: T, status: S, effective: date, outstanding: int, created: int = 0) -> Owed:
    return Owed(name, kind, status, effective, T0 + timedelta(seconds=created), outstanding)


def test_the_worked_example_of_section_8_2():
    p1 = owed("P1", T.DISBURSAL, S.NOT_YET_DUE, date(2025, 1, 10), 100_000)
    i1 = owed("I1", T.INTEREST, S.DUE, date(2025, 1, 31), 1_000)
    i2 = owed("I2", T.INTEREST, S.NOT_YET_DUE, date(2025, 2, 28), 900)
    shares = allocate(1_500, [p1, i2, i1])
    assert [(s.obligation.obligation_id, s.amount_cents) for s in shares] == [("I1", 1_000), ("I2", 500)]


def test_interest_first_ignores_status_and_tiered_follows_it():
    p_overdue = owed("P-ovd", T.DISBURSAL, S.OVERDUE, date(2025, 1, 1), 500)
    i_nyd = owed("I-nyd", T.INTEREST, S.NOT_YET_DUE, date(2025, 3, 31), 100)
    i_def = owed("I-def", T.INTEREST, S.DEFAULTED, date(2025, 1, 31), 100)
    p_def = owed("P-def", T.DISBURSAL, S.DEFAULTED, date(2024, 12, 1), 200)
    everything = [p_overdue, i_nyd, i_def, p_def]
    first = [s.obligation.obligation_id for s in allocate(10_000, everything, AllocationStrategy.INTEREST_FIRST)]
    assert first == ["I-def", "I-nyd", "P-def", "P-ovd"]
    tiered = [s.obligation.obligation_id for s in allocate(10_000, everything, AllocationStrategy.TIERED)]
    assert tiered == ["I-def", "P-def", "P-ovd", "I-nyd"]


def test_same_effective_date_falls_back_to_creation_order():
    a = owed("b-later", T.INTEREST, S.DUE, date(2025, 1, 31), 100, created=2)
    b = owed("a-earlier", T.INTEREST, S.DUE, date(2025, 1, 31), 100, created=1)
    assert [s.obligation.obligation_id for s in allocate(150, [a, b])] == ["a-earlier", "b-later"]


def test_a_custom_sort_key_is_pluggable():
    big, small = owed("big", T.DISBURSAL, S.DUE, date(2025, 1, 1), 900), owed("small", T.DISBURSAL, S.DUE,
                                                                              date(2025, 2, 1), 100)
    shares = allocate(100, [big, small], lambda o: (o.outstanding_cents,))  # smallest balance first
    assert [(s.obligation.obligation_id, s.amount_cents) for s in shares] == [("small", 100)]


kinds = st.sampled_from(list(T))
statuses = st.sampled_from([S.NOT_YET_DUE, S.DUE, S.OVERDUE, S.DEFAULTED, S.PAID])
obligations = st.lists(st.builds(
    lambda i, k, s, d, n, c: owed(f"o{i}", k, s, date(2025, 1, 1) + timedelta(days=d), 0 if s is S.PAID else n, c),
    st.integers(0, 10**6), kinds, statuses, st.integers(0, 400), st.integers(1, 10**7), st.integers(0, 50)),
    max_size=12, unique_by=lambda o: o.obligation_id)
strategies = st.sampled_from(list(AllocationStrategy))


@given(obligations, st.integers(0, 10**8), strategies)
def test_the_sum_is_the_payment_up_to_what_is_outstanding_and_no_obligation_is_over_allocated(obs, amount, strat):
    shares = allocate(amount, obs, strat)
    outstanding = sum(o.outstanding_cents for o in obs)
    assert total(shares) == min(amount, outstanding)
    assert all(0 < s.amount_cents <= s.obligation.outstanding_cents for s in shares)
    assert len({s.obligation.obligation_id for s in shares}) == len(shares)


@given(obligations, st.integers(1, 10**8), strategies)
def test_only_the_last_share_is_partial_and_shares_follow_the_order(obs, amount, strat):
    from domain.credit.allocation import SORT_KEYS

    shares = allocate(amount, obs, strat)
    keys = [SORT_KEYS[strat](s.obligation) for s in shares]
    assert keys == sorted(keys)
    assert all(s.amount_cents == s.obligation.outstanding_cents for s in shares[:-1])
    # everything before the last share in the order is fully paid: nothing is skipped
    if shares:
        last = SORT_KEYS[strat](shares[-1].obligation)
        taken = {s.obligation.obligation_id for s in shares}
        assert not [o for o in obs if o.outstanding_cents and SORT_KEYS[strat](o) < last
                    and o.obligation_id not in taken]


def _obligation(amount: int = 10_000) -> Obligation:
    return Obligation.for_disbursal(str(uuid.uuid4()), str(uuid.uuid4()), amount, date(2025, 1, 15),
                                    DueDates.from_due(date(2025, 4, 15), terms()))


def test_an_obligation_counts_its_allocations_and_is_paid_at_zero():
    o = _obligation()
    a1 = o.allocate(str(uuid.uuid4()), 4_000, date(2025, 2, 1))
    a2 = o.allocate(str(uuid.uuid4()), 6_000, date(2025, 3, 1))
    assert (a1.idx, a2.idx, a1.receivable_role) == (1, 2, "disbursed_receivable_not_yet_due")
    assert a2.idempotency_key == f"obligation-{o.id}-idx-2"
    assert (o.outstanding_cents, o.status, o.next_transition_date) == (0, S.PAID, None)
    assert o.advance(date(2026, 12, 31)) == []  # a paid obligation has no transition left
    with pytest.raises(ValueError):
        o.allocate(str(uuid.uuid4()), 1, date(2025, 3, 2))


def test_a_partly_paid_obligation_moves_only_its_outstanding_and_a_defaulted_one_credits_the_defaulted_account():
    o = _obligation()
    o.allocate(str(uuid.uuid4()), 2_500, date(2025, 2, 1))
    moves = o.advance(date(2026, 4, 15))  # due, overdue, defaulted
    assert [(t.to_status, t.amount_cents) for t in moves] == [(S.DUE, 7_500), (S.OVERDUE, 7_500),
                                                             (S.DEFAULTED, 7_500)]
    a = o.allocate(str(uuid.uuid4()), 500, date(2026, 4, 16))
    assert (a.obligation_status, a.receivable_role) == (S.DEFAULTED, "disbursed_defaulted")  # §15 #8


def test_payment_rules():
    with pytest.raises(InvalidPaymentAmount):
        check_payment_amount(0)
    with pytest.raises(PaymentAmountGreaterThanOutstanding):
        check_not_over_outstanding(101, 100)
    check_not_over_outstanding(100, 100)
    with pytest.raises(PaymentBeforeFacilityActivation):
        check_payment_effective(date(2025, 1, 14), date(2025, 1, 15), date(2025, 2, 1))
    with pytest.raises(PaymentEffectiveInFuture):
        check_payment_effective(date(2025, 2, 2), date(2025, 1, 15), date(2025, 2, 1))
    check_payment_effective(date(2025, 1, 15), date(2025, 1, 15), date(2025, 1, 15))


def test_the_strategy_is_a_validated_term_with_lana_as_default():
    assert terms().payment_allocation_strategy is AllocationStrategy.INTEREST_FIRST
    assert terms(payment_allocation_strategy="tiered").payment_allocation_strategy is AllocationStrategy.TIERED
    with pytest.raises(ValueError):
        TermValues.model_validate({**terms().model_dump(), "payment_allocation_strategy": "largest_first"})
