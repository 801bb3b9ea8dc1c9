"""The repayment plan (credit.md §1.1, api-surface §13): what the customer owes and when.

Every obligation as it stands (its status, or ``Paid`` once nothing is outstanding), then the
interest still to come, projected: the open cycle's accruals so far plus its remaining periods, and
every later cycle up to maturity, each on today's disbursed outstanding (``Upcoming``). Principal
has no projection on an active facility: each disbursal's principal obligation exists from its
settlement, due at maturity (an amount not drawn yet is not owed). Paid obligations stay in the
plan with what was paid on them (``paid_cents``). The projection uses the end of day's own
functions (``interest_for_period`` over ``accrual_periods`` of each ``next_cycle_period``), so on
a constant principal every projected entry is the obligation the end of day will post.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from domain.credit.accrual_cycle import AccrualCycle
from domain.credit.interest import (
    Period,
    accrual_period_after,
    accrual_periods,
    interest_for_period,
    next_cycle_period,
)
from domain.credit.obligation import DueDates, Obligation
from domain.credit.status import AccrualCycleStatus, ObligationType, RepaymentStatus
from domain.credit.terms import TermValues, add_months


@dataclass(frozen=True)
class RepaymentEntry:
    obligation_type: ObligationType
    status: RepaymentStatus
    initial_cents: int
    outstanding_cents: int
    effective: date  # the day the debt arises (a projection: its cycle's last day)
    dates: DueDates
    obligation_id: str | None = None  # None for a projection
    cycle_idx: int | None = None  # the accrual cycle of an interest entry, when known
    paid_cents: int = 0  # Σ payments allocated to it


def _periods_left(cycle: AccrualCycle) -> list[Period]:
    out, p = [], cycle.next_period
    while p is not None:
        out.append(p)
        p = accrual_period_after(cycle.accrual_interval, p, cycle.period)
    return out


def _projected(idx: int, period: Period, amount: int, terms: TermValues) -> RepaymentEntry:
    return RepaymentEntry(ObligationType.INTEREST, RepaymentStatus.UPCOMING, amount, amount, period.end,
                          DueDates.after_cycle(period.end, terms), cycle_idx=idx)


def repayment_plan(obligations: list[Obligation], open_cycle: AccrualCycle | None, terms: TermValues,
                   maturity: date | None, principal_cents: int,
                   cycle_idx: Mapping[str, int] | None = None) -> list[RepaymentEntry]:
    """The plan, ordered by due date (interest before principal on the same day); ``cycle_idx``
    maps accrual cycle ids to their index (for the posted interest obligations)."""
    idx_of = cycle_idx or {}
    entries = [RepaymentEntry(o.obligation_type,
                              RepaymentStatus.PAID if o.outstanding_cents == 0 else RepaymentStatus(o.status.value),
                              o.amount_cents, o.outstanding_cents, o.effective, o.dates, o.id,
                              idx_of.get(o.cycle_id) if o.cycle_id else None, o.amount_cents - o.outstanding_cents)
               for o in obligations]
    if open_cycle is not None and open_cycle.status is not AccrualCycleStatus.POSTED and maturity is not None:
        rate, dc = open_cycle.annual_rate, open_cycle.day_count
        left = sum(interest_for_period(principal_cents, p, rate, dc) for p in _periods_left(open_cycle))
        if open_cycle.accrued_cents + left > 0:
            entries.append(_projected(open_cycle.idx, open_cycle.period, open_cycle.accrued_cents + left, terms))
        idx, cycle = open_cycle.idx, next_cycle_period(terms.accrual_cycle_interval, open_cycle.period, maturity)
        while cycle is not None:
            idx += 1
            amount = sum(interest_for_period(principal_cents, p, terms.annual_rate, terms.day_count_convention)
                         for p in accrual_periods(terms.accrual_interval, cycle))
            if amount > 0:
                entries.append(_projected(idx, cycle, amount, terms))
            cycle = next_cycle_period(terms.accrual_cycle_interval, cycle, maturity)
    return sorted(entries, key=_order)


def _order(e: RepaymentEntry) -> tuple:
    return e.dates.due_date, 0 if e.obligation_type is ObligationType.INTEREST else 1, e.effective


def proposed_plan(facility_id: str, terms: TermValues, amount_cents: int, activated_on: date) -> list[RepaymentEntry]:
    """A proposal's or pending facility's schedule: as if activated on ``activated_on`` with the
    whole amount drawn (every entry ``Upcoming``)."""
    maturity = add_months(activated_on, terms.duration.units)
    principal = RepaymentEntry(ObligationType.DISBURSAL, RepaymentStatus.UPCOMING, amount_cents, amount_cents,
                               activated_on, DueDates.at_maturity(maturity, terms))
    first = AccrualCycle.first(facility_id, activated_on, maturity, terms)
    entries = (repayment_plan([], first, terms, maturity, amount_cents) if first else []) + [principal]
    return sorted(entries, key=_order)
