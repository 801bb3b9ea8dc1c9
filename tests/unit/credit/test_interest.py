"""Interest (credit.md §6): periods, cycles, the interest of a period (worked examples of §6.3–§6.4),
day-count conventions, the accrual cycle aggregate, and properties over whole facility lifetimes."""

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.credit.accrual_cycle import AccrualCycle
from domain.credit.errors import AccrualCycleNotAccrued
from domain.credit.interest import (
    Period,
    accrual_periods,
    cycle_periods,
    interest_for_period,
    period_from,
    truncate,
    year_fraction,
)
from domain.credit.status import AccrualCycleStatus
from domain.credit.terms import DayCountConvention, InterestInterval, add_months
from tests.credit_fixtures import terms

MONTH, DAY = InterestInterval.END_OF_MONTH, InterestInterval.END_OF_DAY
F = "6f0f3b4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def days(n: int, start: date = date(2025, 3, 1)) -> Period:
    return Period(start, start + timedelta(days=n - 1))


# --- §6.1 periods -----------------------------------------------------------------------------------
def test_periods_count_both_ends_and_truncate_at_a_limit():
    assert period_from(MONTH, date(2024, 12, 3)) == Period(date(2024, 12, 3), date(2024, 12, 31))
    assert period_from(MONTH, date(2024, 12, 3)).days == 29  # lana's test: a cycle from Dec 3
    assert period_from(DAY, date(2025, 2, 28)).days == 1
    assert period_from(MONTH, date(2024, 2, 1)).end == date(2024, 2, 29)
    assert truncate(Period(date(2025, 4, 1), date(2025, 4, 30)), date(2025, 4, 15)) == Period(date(2025, 4, 1),
                                                                                           date(2025, 4, 15))
    assert truncate(Period(date(2025, 4, 16), date(2025, 4, 30)), date(2025, 4, 15)) is None


def test_cycles_of_the_worked_example_accrue_the_activation_and_the_maturity_day():
    """§6.3: activated 2025-01-15, 3 months, maturity 2025-04-15 → 17 + 28 + 31 + 15 = 91 daily accruals."""
    cycles = cycle_periods(MONTH, date(2025, 1, 15), date(2025, 4, 15))
    assert [(c.start, c.end) for c in cycles] == [
        (date(2025, 1, 15), date(2025, 1, 31)), (date(2025, 2, 1), date(2025, 2, 28)),
        (date(2025, 3, 1), date(2025, 3, 31)), (date(2025, 4, 1), date(2025, 4, 15))]
    assert [len(accrual_periods(DAY, c)) for c in cycles] == [17, 28, 31, 15]
    assert [accrual_periods(MONTH, c) for c in cycles] == [[c] for c in cycles]  # one period per monthly cycle


def test_a_maturity_on_the_first_of_a_month_has_a_one_day_last_cycle():
    cycles = cycle_periods(MONTH, date(2025, 1, 1), date(2025, 4, 1))
    assert cycles[-1] == Period(date(2025, 4, 1), date(2025, 4, 1)) and len(cycles) == 4


# --- §6.4 the interest of one period ----------------------------------------------------------------
@pytest.mark.parametrize(("principal", "n", "expected"), [
    (10_000, 365, 1200),  # $100.00 for a year: exactly 1200 ¢
    (100_000, 23, 757),  # 756.16 ¢ rounded up
    (1_000_000, 1, 329),  # 328.77 ¢ rounded up
    (100_000, 1, 33),  # 32.88 ¢ rounded up
    (100_000, 31, 1020),  # one 31-day period
])
def test_worked_examples_at_12_percent(principal, n, expected):
    assert interest_for_period(principal, days(n), Decimal(12)) == expected


def test_rounding_per_period_makes_daily_accrual_exceed_one_monthly_period():
    assert sum(interest_for_period(100_000, days(1, date(2025, 3, d)), Decimal(12)) for d in range(1, 32)) == 1023


def test_zero_principal_or_rate_accrues_nothing():
    assert interest_for_period(0, days(30), Decimal(12)) == 0
    assert interest_for_period(100_000, days(30), Decimal(0)) == 0


def test_day_count_conventions():
    assert interest_for_period(100_000, days(30), Decimal(12), DayCountConvention.ACT_360) == 1000  # exact
    across = Period(date(2023, 12, 31), date(2024, 1, 1))  # one day of 2023 (365), one of 2024 (366)
    assert year_fraction(across, DayCountConvention.ACT_ACT_ISDA) == pytest.approx(1 / 365 + 1 / 366)
    assert interest_for_period(1_000_000, across, Decimal(12), DayCountConvention.ACT_ACT_ISDA) == 657  # 656.64
    assert interest_for_period(1_000_000, across, Decimal(12), DayCountConvention.ACT_365_FIXED) == 658  # 657.53
    leap_year = Period(date(2024, 1, 1), date(2024, 12, 31))
    assert year_fraction(leap_year, DayCountConvention.ACT_ACT_ISDA) == 1
    assert year_fraction(leap_year, DayCountConvention.ACT_365_FIXED) == Fraction(366, 365)


def test_an_exotic_rate_keeps_its_last_cent():
    # 1,000,000,000,000 ¢ × 12.0000000000000000000000000001 % / 365: a 28-digit Decimal product would round
    assert interest_for_period(10**12, days(1), Decimal("12.0000000000000000000000000001")) == 328_767_124


# --- the accrual cycle aggregate --------------------------------------------------------------------
def test_one_period_per_call_then_the_posting_and_the_next_cycle():
    t = terms()
    cycle = AccrualCycle.first(F, date(2025, 1, 30), date(2025, 4, 30), t)
    assert cycle.period == Period(date(2025, 1, 30), date(2025, 1, 31))
    assert cycle.accrue(date(2025, 1, 29), 100_000) is None  # not yet
    first = cycle.accrue(date(2025, 1, 31), 100_000)  # catching up: still one period
    assert (first.n, first.period, first.amount_cents) == (1, Period(date(2025, 1, 30), date(2025, 1, 30)), 33)
    with pytest.raises(AccrualCycleNotAccrued):
        cycle.check_post()
    assert cycle.accrue(date(2025, 1, 31), 100_000).amount_cents == 33
    assert cycle.status is AccrualCycleStatus.ACCRUED and cycle.accrue(date(2025, 1, 31), 100_000) is None
    posting = cycle.post(t, date(2025, 4, 30))
    assert (posting.total_cents, posting.effective, posting.obligation.amount_cents) == (66, date(2025, 1, 31), 66)
    assert posting.obligation.dates.due_date == date(2025, 1, 31)  # interest due 0 days after the cycle
    assert posting.obligation.dates.overdue_date == date(2025, 3, 22)  # + 50 days
    assert posting.obligation.dates.defaulted_date == date(2026, 1, 26)  # + 360 days
    assert posting.obligation.reference == f"{F}-interest-accrual-cycle-1"
    assert posting.next_cycle.period == Period(date(2025, 2, 1), date(2025, 2, 28))
    assert posting.next_cycle.idx == 2 and posting.next_cycle.id != cycle.id
    assert cycle.post(t, date(2025, 4, 30)) is None  # a rerun posts nothing
    assert [e for e, _ in cycle.pending] == ["started", "interest_accrued", "interest_accrued", "accruals_posted"]


def test_a_zero_cycle_makes_no_obligation():
    cycle = AccrualCycle.first(F, date(2025, 1, 31), date(2025, 4, 30), terms())
    cycle.accrue(date(2025, 1, 31), 0)
    posting = cycle.post(terms(), date(2025, 4, 30))
    assert posting.total_cents == 0 and posting.obligation is None and posting.next_cycle is not None


def test_the_interest_due_duration_delays_the_due_date():
    t = terms(interest_due_duration_from_accrual={"period": "DAYS", "units": 10})
    cycle = AccrualCycle.first(F, date(2025, 1, 31), date(2025, 4, 30), t)
    cycle.accrue(date(2025, 1, 31), 100_000)
    assert cycle.post(t, date(2025, 4, 30)).obligation.dates.due_date == date(2025, 2, 10)


# --- properties over a facility's whole life ---------------------------------------------------------
lifetimes = st.fixed_dictionaries({
    "activated": st.dates(date(2023, 1, 1), date(2026, 12, 31)),
    "months": st.integers(1, 14),
    "cycle": st.sampled_from([MONTH, DAY]),
    "daily_accrual": st.booleans(),
    "rate": st.decimals(Decimal("0"), Decimal("30"), places=3),
    "convention": st.sampled_from(list(DayCountConvention)),
    "principals": st.lists(st.integers(0, 10**9), min_size=1, max_size=40),
})


def _live(p: dict):
    """Run a facility's cycles day by day (each date once, then every date again: a rerun), as the
    end-of-day steps do; principal changes along the way."""
    accrual = DAY if p["daily_accrual"] or p["cycle"] is DAY else MONTH
    t = terms(annual_rate=str(p["rate"]), duration={"period": "MONTHS", "units": p["months"]},
              accrual_cycle_interval=p["cycle"].value, accrual_interval=accrual.value,
              day_count_convention=p["convention"].value)
    maturity = add_months(p["activated"], p["months"])
    cycle, accrued, postings, reruns = AccrualCycle.first(F, p["activated"], maturity, t), {}, [], []
    day = p["activated"]
    while day <= maturity + timedelta(days=3):
        principal = p["principals"][(day - p["activated"]).days % len(p["principals"])]
        for rerun in (False, True):
            while cycle is not None:
                a = cycle.accrue(day, principal)
                if a is not None:
                    (reruns if rerun else accrued.setdefault(cycle.id, [])).append(a)
                if cycle.status is not AccrualCycleStatus.ACCRUED:
                    break
                posting = cycle.post(t, maturity)
                (reruns if rerun else postings).append(posting)
                cycle = posting.next_cycle
                break  # one period per end of day
        day += timedelta(days=1)
    return maturity, accrued, postings, reruns, cycle


@settings(max_examples=60, deadline=None)
@given(lifetimes)
def test_every_cycle_obligation_is_the_sum_of_its_accruals_and_nothing_accrues_after_maturity(p):
    maturity, accrued, postings, reruns, last = _live(p)
    assert last is None  # the cycle that ends on maturity was posted and no cycle follows it
    assert reruns == []  # a second run of every date adds nothing
    for posting in postings:
        total = sum(a.amount_cents for a in accrued[posting.cycle_id])
        assert posting.total_cents == total
        assert (posting.obligation.amount_cents if posting.obligation else 0) == total
    periods = [a.period for accruals in accrued.values() for a in accruals]
    assert max(pp.end for pp in periods) == maturity  # the maturity day is accrued, nothing after
    assert min(pp.start for pp in periods) == p["activated"]  # so is the activation day
    assert sum(pp.days for pp in periods) == (maturity - p["activated"]).days + 1  # every day exactly once
