"""The facility's end-of-day view: idempotent, never regressed by an older event."""

from datetime import date

from domain.credit.end_of_day import FacilityEvent, FacilityEventKind
from domain.credit.facility_day import FacilityDay, apply, worse


def event(kind, day, **detail) -> FacilityEvent:
    return FacilityEvent(facility_id="f", kind=kind, business_date=day, detail=detail)


def test_the_same_event_twice_changes_nothing_more():
    e = event(FacilityEventKind.OBLIGATION_OVERDUE, date(2026, 5, 1), current_cycle="5", next_accrual_date="2026-05-02")
    once = apply(FacilityDay(), e)
    assert apply(once, e) == once
    assert (once.worst_obligation_status, once.current_cycle, once.next_accrual_date) == ("Overdue", "5", date(2026, 5, 2))


def test_an_older_event_does_not_move_the_cycle_back_and_statuses_only_worsen():
    new = apply(FacilityDay(), event(FacilityEventKind.OBLIGATION_DEFAULTED, date(2026, 5, 3), current_cycle="6"))
    old = apply(new, event(FacilityEventKind.OBLIGATION_DUE, date(2026, 5, 1), current_cycle="5",
                           worst_obligation_status="Due"))
    assert (old.current_cycle, old.worst_obligation_status, old.business_date) == ("6", "Defaulted", date(2026, 5, 3))


def test_an_explicit_worst_status_of_a_newer_day_wins_and_maturity_sticks():
    day = apply(FacilityDay(), event(FacilityEventKind.OBLIGATION_OVERDUE, date(2026, 5, 1)))
    day = apply(day, event(FacilityEventKind.MATURED, date(2026, 5, 2), worst_obligation_status=None))
    assert (day.worst_obligation_status, day.matured) == (None, True)
    assert worse("Due", "NotYetDue") == "Due" and worse(None, None) is None
