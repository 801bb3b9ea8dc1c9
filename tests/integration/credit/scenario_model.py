"""A reference model of one facility's money, day by day, for the end-to-end scenarios (issue 18).

Written from the spec, not from the implementation: credit.md §6 (one accrual per day, rounded up,
on the principal outstanding that day; a cycle per calendar month truncated at maturity, its total
one interest obligation due at the cycle's end), §7 (not yet due → due → overdue → defaulted on
their dates, the current outstanding moves), §8.2 (interest first, then oldest effective date, then
creation), §13 (the balance figures). The scenario tests compare the API with it at every month end.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

NYD, DUE, OVD, DEF, PAID = "NOT_YET_DUE", "DUE", "OVERDUE", "DEFAULTED", "PAID"
PRINCIPAL, INTEREST = "DISBURSAL", "INTEREST"
ONE = timedelta(days=1)


def month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def add_months(d: date, months: int) -> date:
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass
class Ob:
    kind: str
    amount: int
    effective: date
    due: date
    overdue: date | None
    defaulted: date | None
    seq: int
    outstanding: int = 0
    status: str = NYD

    def __post_init__(self) -> None:
        self.outstanding = self.amount

    def advance(self, d: date) -> None:
        while self.status != PAID:
            if self.status == NYD and self.due <= d:
                self.status = DUE
            elif self.status == DUE and self.overdue and self.overdue <= d:
                self.status = OVD
            elif self.status in (DUE, OVD) and self.defaulted and self.defaulted <= d:
                self.status = DEF
            else:
                return


@dataclass
class Model:
    activated: date
    months: int = 3
    rate: Fraction = Fraction(12)
    overdue_days: int | None = 50
    default_days: int | None = 360
    obligations: list[Ob] = field(default_factory=list)
    accrued: int = 0  # in the current cycle, not yet posted
    paid: int = 0

    @property
    def maturity(self) -> date:
        return add_months(self.activated, self.months)

    def _dates(self, due: date) -> tuple[date | None, date | None]:
        return (due + timedelta(days=self.overdue_days) if self.overdue_days is not None else None,
                due + timedelta(days=self.default_days) if self.default_days is not None else None)

    def disburse(self, amount: int, on: date) -> None:
        self.obligations.append(Ob(PRINCIPAL, amount, on, self.maturity, *self._dates(self.maturity),
                                   seq=len(self.obligations)))

    def principal(self) -> int:
        return sum(o.outstanding for o in self.obligations if o.kind == PRINCIPAL and o.status in (NYD, DUE, OVD))

    def end_of_day(self, d: date) -> None:
        """EndOfDay(d): accrue (through maturity), complete the cycle at its end, then transitions."""
        if self.activated <= d <= self.maturity:
            self.accrued += -(-(self.principal() * self.rate) // (100 * 365))
            if d == month_end(d) or d == self.maturity:
                if self.accrued:
                    self.obligations.append(Ob(INTEREST, self.accrued, d, d, *self._dates(d),
                                               seq=len(self.obligations)))
                self.accrued = 0
        for o in self.obligations:
            o.advance(d)

    def pay(self, amount: int) -> list[tuple[str, str, int]]:
        """Allocate (interest first, oldest first, then creation): ``(kind, status, amount)`` each."""
        order = sorted((o for o in self.obligations if o.outstanding),
                       key=lambda o: (o.kind != INTEREST, o.effective, o.seq))
        shares, left = [], amount
        for o in order:
            if not left:
                break
            take = min(left, o.outstanding)
            shares.append((o.kind, o.status, take))
            o.outstanding -= take
            left -= take
            if o.outstanding == 0:
                o.status = PAID
        self.paid += amount
        return shares

    # -- what the API should show ------------------------------------------------------------------
    def outstanding(self, kind: str, *statuses: str) -> int:
        return sum(o.outstanding for o in self.obligations if o.kind == kind and o.status in statuses)

    def interest_payable(self) -> int:
        return self.outstanding(INTEREST, DUE, OVD, DEF)

    def balance(self) -> dict[str, int]:
        disbursed = sum(o.amount for o in self.obligations if o.kind == PRINCIPAL)
        posted = sum(o.amount for o in self.obligations if o.kind == INTEREST)
        return {
            "disbursed": disbursed, "interest_posted": posted, "interest_accrued": self.accrued,
            "not_yet_due_disbursed_outstanding": self.outstanding(PRINCIPAL, NYD),
            "due_disbursed_outstanding": self.outstanding(PRINCIPAL, DUE),
            "overdue_disbursed_outstanding": self.outstanding(PRINCIPAL, OVD),
            "disbursed_defaulted": self.outstanding(PRINCIPAL, DEF),
            "not_yet_due_interest_outstanding": self.outstanding(INTEREST, NYD),
            "due_interest_outstanding": self.outstanding(INTEREST, DUE),
            "overdue_interest_outstanding": self.outstanding(INTEREST, OVD),
            "interest_defaulted": self.outstanding(INTEREST, DEF),
            "uncovered_outstanding": disbursed + posted - self.paid,
        }

    def obligation_rows(self) -> list[tuple]:
        return sorted((o.kind, o.amount, o.outstanding, o.status, o.due.isoformat()) for o in self.obligations)
