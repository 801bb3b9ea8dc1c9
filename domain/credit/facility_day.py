"""What a facility's workflow knows from the end-of-day events it hears (credit.md §12.2): the
current interest cycle, the next accrual date, the worst status among its obligations, maturity.

Shown in the Temporal UI (the ``summary`` query, ``LanaObligationStatus`` / ``LanaNextAccrualDate``)
for engineers; the read models stay the source of truth. Events are delivered at least once and
not necessarily in order, so :func:`apply` is idempotent and never takes an older date's cycle
over a newer one.

The batch steps put what they know in the event's ``detail`` under these keys (all optional):
``current_cycle`` (a label, e.g. ``"2026-03"`` or ``"3"``), ``next_accrual_date`` (ISO date),
``worst_obligation_status`` (an obligation status name, ``NotYetDue`` … ``Defaulted``, or ``null``
when the facility has no open obligation).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from domain.credit.end_of_day import FacilityEvent, FacilityEventKind

CURRENT_CYCLE = "current_cycle"
NEXT_ACCRUAL_DATE = "next_accrual_date"
WORST_OBLIGATION_STATUS = "worst_obligation_status"

# Obligation statuses an open obligation can have, best to worst (credit.md §1.1, §7.2).
OBLIGATION_SEVERITY = ("NotYetDue", "Due", "Overdue", "Defaulted")
_IMPLIED = {FacilityEventKind.INTEREST_OBLIGATION_CREATED: "NotYetDue", FacilityEventKind.OBLIGATION_DUE: "Due",
            FacilityEventKind.OBLIGATION_OVERDUE: "Overdue", FacilityEventKind.OBLIGATION_DEFAULTED: "Defaulted"}


class FacilityDay(BaseModel):
    business_date: date | None = None  # the latest date an event was applied for
    current_cycle: str | None = None
    next_accrual_date: date | None = None
    worst_obligation_status: str | None = None
    matured: bool = False


def worse(a: str | None, b: str | None) -> str | None:
    known = [s for s in (a, b) if s in OBLIGATION_SEVERITY]
    return max(known, key=OBLIGATION_SEVERITY.index) if known else (a or b)


def apply(day: FacilityDay, event: FacilityEvent) -> FacilityDay:
    """The view after ``event``; the same event twice, or an older one after a newer, changes nothing
    more (the worst status only gets worse from events; an explicit one counts when not older)."""
    detail = event.detail
    current = day.business_date is None or event.business_date >= day.business_date
    update: dict = {"matured": day.matured or event.kind is FacilityEventKind.MATURED,
                    "worst_obligation_status": worse(day.worst_obligation_status, _IMPLIED.get(event.kind))}
    if current:
        update["business_date"] = event.business_date
        if CURRENT_CYCLE in detail:
            update[CURRENT_CYCLE] = None if detail[CURRENT_CYCLE] is None else str(detail[CURRENT_CYCLE])
        if NEXT_ACCRUAL_DATE in detail:
            value = detail[NEXT_ACCRUAL_DATE]
            update[NEXT_ACCRUAL_DATE] = None if value is None else date.fromisoformat(str(value))
        if WORST_OBLIGATION_STATUS in detail:
            value = detail[WORST_OBLIGATION_STATUS]
            update[WORST_OBLIGATION_STATUS] = None if value is None else str(value)
    return day.model_copy(update=update)
