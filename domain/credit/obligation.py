"""Obligations (credit.md §11): what a settled disbursal makes the customer owe, and when.

A disbursal's principal is due at the facility's maturity; the overdue and liquidation dates follow
from the terms (either may be absent). The same dates are shown on the disbursal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from domain.credit.terms import TermValues


@dataclass(frozen=True)
class DueDates:
    due_date: date
    overdue_date: date | None
    liquidation_date: date | None

    @classmethod
    def at_maturity(cls, maturity: date, terms: TermValues) -> DueDates:
        overdue, liquidation = terms.obligation_overdue_duration_from_due, terms.obligation_liquidation_duration_from_due
        return cls(due_date=maturity,
                   overdue_date=maturity + timedelta(days=overdue.units) if overdue else None,
                   liquidation_date=maturity + timedelta(days=liquidation.units) if liquidation else None)


@dataclass(frozen=True)
class Obligation:
    id: str
    facility_id: str
    disbursal_id: str
    amount_cents: int
    effective: date
    dates: DueDates
    obligation_type: str = "Disbursal"
    status: str = "NotYetDue"
    is_initial: bool = False  # the disbursal made at activation (credit.md §5, §13 reference)

    @property
    def outstanding_cents(self) -> int:
        return self.amount_cents  # nothing is repaid yet (payments come with a later issue)

    @property
    def reference(self) -> str:
        """§13: ``initial-disbursal-{id}`` for the disbursal made at activation, else ``disbursal-{id}``."""
        return f"{'initial-disbursal' if self.is_initial else 'disbursal'}-{self.disbursal_id}"

    @classmethod
    def for_disbursal(cls, facility_id: str, disbursal_id: str, amount_cents: int, effective: date,
                      dates: DueDates, *, is_initial: bool = False) -> Obligation:
        """The principal obligation of a settled disbursal (its id follows from the disbursal's)."""
        return cls(id=str(uuid.uuid5(uuid.UUID(disbursal_id), "obligation")), facility_id=facility_id,
                   disbursal_id=disbursal_id, amount_cents=amount_cents, effective=effective, dates=dates,
                   is_initial=is_initial)
