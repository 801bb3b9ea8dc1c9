"""Obligation dates and status lifecycle (credit.md §6.6, §7.2, §7.5, §15), and maturity (§10)."""

import uuid
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.credit.errors import DisbursalOnInactiveFacility
from domain.credit.obligation import DueDates, Obligation, reclassification
from domain.credit.status import FacilityStatus, ObligationStatus, ObligationType
from tests.credit_fixtures import terms
from tests.unit.credit.test_facility_rules import NOW, active

S = ObligationStatus
F, D = str(uuid.uuid4()), str(uuid.uuid4())


def principal(dates: DueDates, amount: int = 1_000) -> Obligation:
    return Obligation.for_disbursal(F, D, amount, date(2025, 1, 15), dates)


def test_dates_follow_the_terms():
    t = terms()  # overdue 50 days, liquidation (default) 360 days
    d = DueDates.at_maturity(date(2025, 4, 15), t)
    assert (d.due_date, d.overdue_date, d.defaulted_date) == (date(2025, 4, 15), date(2025, 6, 4), date(2026, 4, 10))
    none = DueDates.at_maturity(date(2025, 4, 15), terms(obligation_overdue_duration_from_due=None,
                                                         obligation_liquidation_duration_from_due=None))
    assert (none.overdue_date, none.defaulted_date) == (None, None)


def test_one_transition_at_a_time_each_on_its_date():
    o = principal(DueDates(date(2025, 4, 15), date(2025, 6, 4), date(2026, 4, 10)))
    assert o.next_transition_date == date(2025, 4, 15)
    assert o.advance(date(2025, 4, 14)) == [] and o.status is S.NOT_YET_DUE
    [due] = o.advance(date(2025, 4, 15))
    assert (due.from_status, due.to_status, due.effective, due.amount_cents) == (S.NOT_YET_DUE, S.DUE,
                                                                                 date(2025, 4, 15), 1_000)
    assert o.advance(date(2025, 4, 15)) == []  # a rerun of the date moves nothing
    assert o.next_transition_date == date(2025, 6, 4)


def test_catching_up_goes_through_every_state_in_one_run():
    o = principal(DueDates(date(2025, 4, 15), date(2025, 6, 4), date(2026, 4, 10)))
    steps = o.advance(date(2026, 5, 1))
    assert [(t.to_status, t.effective) for t in steps] == [
        (S.DUE, date(2025, 4, 15)), (S.OVERDUE, date(2025, 6, 4)), (S.DEFAULTED, date(2026, 4, 10))]
    assert o.status is S.DEFAULTED and o.next_transition_date is None
    assert [e for e, _ in o.pending] == ["created", "due", "overdue", "defaulted"]


def test_without_an_overdue_date_due_goes_straight_to_defaulted_and_without_either_stays_due():
    o = principal(DueDates(date(2025, 4, 15), None, date(2025, 5, 1)))
    assert [t.to_status for t in o.advance(date(2025, 5, 1))] == [S.DUE, S.DEFAULTED]
    o = principal(DueDates(date(2025, 4, 15), None, None))
    assert [t.to_status for t in o.advance(date(2030, 1, 1))] == [S.DUE] and o.next_transition_date is None


def test_reclassification_moves_between_the_family_accounts():
    o = principal(DueDates(date(2025, 4, 15), date(2025, 6, 4), date(2026, 4, 10)))
    due, overdue, defaulted = o.advance(date(2026, 5, 1))
    assert reclassification(due) == ("RECORD_OBLIGATION_DUE_BALANCE", {
        "receivable_not_yet_due_account_id": "disbursed_receivable_not_yet_due",
        "receivable_due_account_id": "disbursed_receivable_due"})
    assert reclassification(overdue)[1] == {"receivable_due_account_id": "disbursed_receivable_due",
                                            "receivable_overdue_account_id": "disbursed_receivable_overdue"}
    assert reclassification(defaulted) == ("RECORD_OBLIGATION_DEFAULTED_BALANCE", {
        "receivable_account_id": "disbursed_receivable_overdue", "defaulted_account_id": "disbursed_defaulted"})
    i = Obligation.for_interest(F, str(uuid.uuid4()), 3, 500, date(2025, 3, 31),
                                DueDates(date(2025, 3, 31), None, date(2025, 4, 5)))
    assert i.obligation_type is ObligationType.INTEREST
    _, to_default = i.advance(date(2025, 4, 5))
    assert reclassification(to_default)[1] == {"receivable_account_id": "interest_receivable_due",
                                               "defaulted_account_id": "interest_defaulted"}


@given(due=st.dates(date(2024, 1, 1), date(2026, 1, 1)), overdue=st.none() | st.integers(0, 100),
       default=st.none() | st.integers(0, 100), jumps=st.lists(st.integers(1, 60), min_size=1, max_size=12))
def test_any_schedule_of_runs_gives_the_same_transitions_as_running_every_day(due, overdue, default, jumps):
    if overdue is not None and default is not None:
        default = max(default, overdue)  # validated terms: the default comes no earlier than overdue
    dates = DueDates(due, due + timedelta(days=overdue) if overdue is not None else None,
                     due + timedelta(days=default) if default is not None else None)
    daily, jumpy = principal(dates), principal(dates)
    end = due + timedelta(days=sum(jumps) - 1)  # the last jump lands here
    by_day = [t for n in range((end - date(2024, 1, 1)).days + 1)
              for t in daily.advance(date(2024, 1, 1) + timedelta(days=n))]
    day, by_jumps = due - timedelta(days=1), []
    for j in jumps:
        day += timedelta(days=j)
        by_jumps += jumpy.advance(day)
    assert by_day == by_jumps and daily.status is jumpy.status


def test_maturity_is_once_and_refuses_new_disbursals():
    f = active()  # maturity 2026-04-10
    assert not f.check_mature(date(2026, 4, 9))
    assert f.mature(date(2026, 4, 10)) and f.state.status is FacilityStatus.MATURED
    assert not f.mature(date(2026, 4, 11))  # a rerun records nothing
    assert [e for e, _ in f.pending] == ["facility_matured"]
    with pytest.raises(DisbursalOnInactiveFacility) as info:
        f.check_disbursal(1, NOW.date())
    assert info.value.code == "credit.disbursal_on_inactive_facility" and info.value.extra["facility_status"] == "Matured"
    assert f.check_reevaluate()  # §10: a matured facility's CVL is still monitored
