"""An interest accrual cycle (credit.md §6.2–§6.7) as an event-sourced aggregate.

Stream ``credit_accrual_cycle`` (id from the facility id and the cycle's 1-based index):
``started`` (the cycle's dates and the terms that price it: rate, day count, accrual interval),
one ``interest_accrued`` per accrual period (``n``, the period, the principal it was computed on,
the amount), then ``accruals_posted`` (the total and, when it is positive, the interest obligation).
Status ``InProgress`` while periods remain, ``Accrued`` once the last one is accrued (the cycle
posting is next), ``Posted`` after it. Each pair follows the house rule: ``check_accrue`` /
``check_post`` say go (True), nothing to do (False: a rerun of the date) or refuse.

One period per call (§6.5: one accrual per facility per end of day); ``post`` returns the next
cycle, if one starts before maturity (§6.3, §6.7), with the interest obligation. The cycle carries
everything its accruals need, so accruing never reads the facility's terms.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.credit.errors import AccrualCycleNotAccrued
from domain.credit.interest import (
    Period,
    accrual_period_after,
    first_accrual_period,
    first_cycle_period,
    interest_for_period,
    next_cycle_period,
)
from domain.credit.obligation import DueDates, Obligation
from domain.credit.status import AccrualCycleStatus
from domain.credit.terms import DayCountConvention, InterestInterval, TermValues
from domain.events import EventSourced

C = AccrualCycleStatus


@dataclass(frozen=True)
class Accrual:
    """One accrual period's interest (posted on the PENDING layer, effective the period's end)."""

    cycle_id: str
    facility_id: str
    n: int  # 1-based within the cycle
    period: Period
    principal_cents: int
    amount_cents: int


@dataclass(frozen=True)
class CyclePosting:
    """A completed cycle: its total re-booked on the SETTLED layer (effective the cycle's last
    accrual day), the interest obligation (None when the total is 0) and the next cycle (None after
    the last one)."""

    cycle_id: str
    facility_id: str
    total_cents: int
    effective: date
    obligation: Obligation | None
    next_cycle: AccrualCycle | None


def _period(payload: dict[str, Any], prefix: str) -> Period | None:
    start = payload.get(f"{prefix}_start")
    return Period(date.fromisoformat(start), date.fromisoformat(payload[f"{prefix}_end"])) if start else None


@dataclass
class AccrualCycle(EventSourced):
    entity_type = "credit_accrual_cycle"

    facility_id: str = ""
    idx: int = 0
    period: Period = Period(date.min, date.min)
    accrual_interval: InterestInterval = InterestInterval.END_OF_DAY
    annual_rate: Decimal = Decimal(0)
    day_count: DayCountConvention = DayCountConvention.ACT_365_FIXED
    status: AccrualCycleStatus = C.IN_PROGRESS
    next_period: Period | None = None  # the next accrual period to accrue (None: all accrued)
    accrual_count: int = 0
    accrued_cents: int = 0
    obligation_id: str | None = None

    @staticmethod
    def id_for(facility_id: str, idx: int) -> str:
        return str(uuid.uuid5(uuid.UUID(facility_id), f"accrual-cycle:{idx}"))

    @classmethod
    def start(cls, facility_id: str, idx: int, period: Period, terms: TermValues) -> AccrualCycle:
        c = cls(id=cls.id_for(facility_id, idx))
        first = first_accrual_period(terms.accrual_interval, period)
        c.record("started", {
            "facility_id": facility_id, "idx": idx, "cycle_start": str(period.start), "cycle_end": str(period.end),
            "accrual_interval": terms.accrual_interval.value, "annual_rate": str(terms.annual_rate),
            "day_count": terms.day_count_convention.value, "next_start": str(first.start),
            "next_end": str(first.end)})
        return c

    @classmethod
    def first(cls, facility_id: str, activated_on: date, maturity: date, terms: TermValues) -> AccrualCycle | None:
        """§4.4 step 5 / §6.3: the cycle that begins on the activation day (None if it is after maturity)."""
        period = first_cycle_period(terms.accrual_cycle_interval, activated_on, maturity)
        return cls.start(facility_id, 1, period, terms) if period else None

    # -- accrual (§6.4, §6.5 step 2) -----------------------------------------------------------
    def check_accrue(self, business_date: date) -> bool:
        """True when the next accrual period ends on or before ``business_date``; False otherwise
        (not yet, or every period is accrued: a rerun of the date adds nothing)."""
        return self.status is C.IN_PROGRESS and self.next_period is not None and self.next_period.end <= business_date

    def accrue(self, business_date: date, principal_cents: int) -> Accrual | None:
        """Accrue the next period on ``principal_cents`` (the disbursed outstanding now)."""
        if not self.check_accrue(business_date):
            return None
        p = self.next_period
        assert p is not None
        amount = interest_for_period(principal_cents, p, self.annual_rate, self.day_count)
        after = accrual_period_after(self.accrual_interval, p, self.period)
        self.record("interest_accrued", {
            "n": self.accrual_count + 1, "period_start": str(p.start), "period_end": str(p.end), "days": p.days,
            "principal_cents": principal_cents, "amount_cents": amount,
            "next_start": str(after.start) if after else None, "next_end": str(after.end) if after else None})
        return Accrual(self.id, self.facility_id, self.accrual_count, p, principal_cents, amount)

    # -- completion (§6.5 step 4) --------------------------------------------------------------
    def check_post(self) -> bool:
        if self.status is C.POSTED:
            return False
        if self.status is C.IN_PROGRESS:
            raise AccrualCycleNotAccrued(f"Accrual cycle {self.id} has periods left to accrue.",
                                         next_period_end=str(self.next_period.end) if self.next_period else None)
        return True

    def post(self, terms: TermValues, maturity: date) -> CyclePosting | None:
        """Sum the cycle's accruals into one interest obligation (if positive) and start the next
        cycle (if one begins by maturity)."""
        if not self.check_post():
            return None
        effective = self.period.end  # the cycle's last accrual period ends on the cycle's end
        obligation = None
        if self.accrued_cents > 0:
            obligation = Obligation.for_interest(self.facility_id, self.id, self.idx, self.accrued_cents, effective,
                                                 DueDates.after_cycle(self.period.end, terms))
        self.record("accruals_posted", {"total_cents": self.accrued_cents, "effective": str(effective),
                                        "obligation_id": obligation.id if obligation else None})
        period = next_cycle_period(terms.accrual_cycle_interval, self.period, maturity)
        following = AccrualCycle.start(self.facility_id, self.idx + 1, period, terms) if period else None
        return CyclePosting(self.id, self.facility_id, self.accrued_cents, effective, obligation, following)

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "started":
            self.facility_id, self.idx = payload["facility_id"], payload["idx"]
            self.period = _period(payload, "cycle")  # type: ignore[assignment]
            self.accrual_interval = InterestInterval(payload["accrual_interval"])
            self.annual_rate = Decimal(payload["annual_rate"])
            self.day_count = DayCountConvention(payload["day_count"])
            self.next_period = _period(payload, "next")
        elif event_type == "interest_accrued":
            self.accrual_count = payload["n"]
            self.accrued_cents += payload["amount_cents"]
            self.next_period = _period(payload, "next")
            if self.next_period is None:
                self.status = C.ACCRUED
        elif event_type == "accruals_posted":
            self.status, self.obligation_id = C.POSTED, payload["obligation_id"]
