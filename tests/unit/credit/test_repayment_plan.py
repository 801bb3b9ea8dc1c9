"""The repayment plan (``domain/credit/repayment_plan.py``) against the end of day's own aggregate:
what it projects is what the accrual cycles post, paid obligations keep their paid amounts."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.credit.accrual_cycle import AccrualCycle
from domain.credit.obligation import DueDates, Obligation
from domain.credit.repayment_plan import proposed_plan, repayment_plan
from domain.credit.status import AccrualCycleStatus, ObligationType, RepaymentStatus
from domain.credit.terms import add_months
from tests.credit_fixtures import terms

F = "00000000-0000-0000-0000-0000000000f1"
JAN15, APR15 = date(2025, 1, 15), date(2025, 4, 15)


def _run_cycles(activated: date, maturity: date, t, principal: int, until: date | None = None):
    """Every end of day from activation to ``until`` (default: maturity) on a constant principal:
    the posted cycles' (idx, total, due date) and the cycle left open."""
    cycle, posted, d = AccrualCycle.first(F, activated, maturity, t), [], activated
    while cycle is not None and d <= (until or maturity):
        while cycle.check_accrue(d):
            cycle.accrue(d, principal)
        if cycle.status is AccrualCycleStatus.ACCRUED and cycle.period.end <= d:
            p = cycle.post(t, maturity)
            if p.obligation:
                posted.append((cycle.idx, p.obligation.amount_cents, p.obligation.dates.due_date, p.obligation))
            cycle = p.next_cycle
        d += timedelta(days=1)
    return posted, cycle


def test_a_proposal_projects_every_cycle_the_end_of_day_posts_and_the_principal_at_maturity():
    t = terms(one_time_fee_rate="0")
    plan = proposed_plan(F, t, 1_000_000, JAN15)
    posted, _ = _run_cycles(JAN15, APR15, t, 1_000_000)
    assert [(e.cycle_idx, e.initial_cents, e.dates.due_date) for e in plan
            if e.obligation_type is ObligationType.INTEREST] == [(i, a, d) for i, a, d, _ in posted]
    assert [e.initial_cents for e in plan if e.obligation_type is ObligationType.INTEREST] == [
        5_593, 9_212, 10_199, 4_935]
    principal = plan[-1]
    assert (principal.obligation_type, principal.status, principal.initial_cents, principal.dates.due_date) == (
        ObligationType.DISBURSAL, RepaymentStatus.UPCOMING, 1_000_000, APR15)
    assert {e.status for e in plan} == {RepaymentStatus.UPCOMING}


def test_mid_cycle_the_plan_is_the_accrued_part_plus_the_rest_and_paid_obligations_keep_their_payments():
    t = terms(one_time_fee_rate="0")
    principal = Obligation.for_disbursal(F, "00000000-0000-0000-0000-0000000000d1", 1_000_000, JAN15,
                                         DueDates.at_maturity(APR15, t), is_initial=True)
    posted, open_cycle = _run_cycles(JAN15, APR15, t, 1_000_000, until=date(2025, 2, 10))
    jan = posted[0][3]
    jan.allocate("00000000-0000-0000-0000-0000000000a1", jan.amount_cents, date(2025, 2, 1))
    principal.allocate("00000000-0000-0000-0000-0000000000a2", 100, date(2025, 2, 1))
    plan = repayment_plan([principal, jan], open_cycle, t, APR15, 1_000_000, {jan.cycle_id: posted[0][0]})
    rows = [(e.obligation_type, e.status, e.initial_cents, e.outstanding_cents, e.paid_cents, e.cycle_idx)
            for e in plan]
    assert rows == [
        (ObligationType.INTEREST, RepaymentStatus.PAID, 5_593, 0, 5_593, 1),
        (ObligationType.INTEREST, RepaymentStatus.UPCOMING, 9_212, 9_212, 0, 2),  # 10 days accrued + 18 to come
        (ObligationType.INTEREST, RepaymentStatus.UPCOMING, 10_199, 10_199, 0, 3),
        (ObligationType.INTEREST, RepaymentStatus.UPCOMING, 4_935, 4_935, 0, 4),
        (ObligationType.DISBURSAL, RepaymentStatus.NOT_YET_DUE, 1_000_000, 999_900, 100, None)]
    assert open_cycle.accrued_cents == 10 * 329


@settings(max_examples=40, deadline=None)
@given(activated=st.dates(date(2024, 1, 1), date(2026, 12, 31)), months=st.integers(1, 14),
       principal=st.integers(1, 10**9), rate=st.sampled_from(["0", "4.5", "12", "19.99"]),
       cycle=st.sampled_from(["EndOfMonth", "EndOfDay"]))
def test_the_projection_is_what_the_end_of_day_posts_on_a_constant_principal(activated, months, principal, rate,
                                                                              cycle):
    t = terms(one_time_fee_rate="0", annual_rate=rate, duration={"period": "MONTHS", "units": months},
              accrual_cycle_interval=cycle)
    maturity = add_months(activated, months)
    projected = [(e.cycle_idx, e.initial_cents, e.dates.due_date)
                 for e in proposed_plan(F, t, principal, activated) if e.obligation_type is ObligationType.INTEREST]
    posted, _ = _run_cycles(activated, maturity, t, principal)
    assert projected == [(i, a, d) for i, a, d, _ in posted]
