"""Interest (credit.md §6): accrual periods inside accrual cycles, the interest of one period.

Pure date arithmetic. An accrual or cycle period is a closed range of calendar dates
(``start``..``end``, both days counted: a partial first day counts as a whole day, §6.1). Cycles are
truncated at the maturity date and accrual periods at their cycle's end, so both the activation day
and the maturity day are accrued (§6.3). The interest of one period is rounded up to the cent on
its own (§6.4), with the facility's day-count convention.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from domain.credit.terms import DayCountConvention, InterestInterval

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period_from(interval: InterestInterval, start: date) -> Period:
    """§6.1: the period of ``interval`` that begins on ``start`` (EndOfDay: that day; EndOfMonth:
    to the last day of its month)."""
    if interval is InterestInterval.END_OF_DAY:
        return Period(start, start)
    return Period(start, start.replace(day=calendar.monthrange(start.year, start.month)[1]))


def next_period(interval: InterestInterval, period: Period) -> Period:
    """The period of ``interval`` that follows ``period`` (it starts the day after its end)."""
    return period_from(interval, period.end + ONE_DAY)


def truncate(period: Period, limit: date) -> Period | None:
    """§6.1 ``truncate``: None when the period starts after ``limit``, else it ends by ``limit``."""
    if period.start > limit:
        return None
    return Period(period.start, min(period.end, limit))


def year_fraction(period: Period, convention: DayCountConvention) -> Fraction:
    """The period's length in years under ``convention`` (exact)."""
    if convention is DayCountConvention.ACT_365_FIXED:
        return Fraction(period.days, 365)
    if convention is DayCountConvention.ACT_360:
        return Fraction(period.days, 360)
    total, start = Fraction(0), period.start  # actual/actual ISDA: each calendar year on its own length
    while start <= period.end:
        year_end = min(period.end, date(start.year, 12, 31))
        total += Fraction((year_end - start).days + 1, 366 if calendar.isleap(start.year) else 365)
        start = year_end + ONE_DAY
    return total


def interest_for_period(principal_cents: int, period: Period, annual_rate: Decimal,
                        convention: DayCountConvention = DayCountConvention.ACT_365_FIXED) -> int:
    """§6.4: ``principal × rate% × year fraction``, rounded up (away from zero) to whole cents.

    With Act/365F this is ``usd(principal) × days × annual_rate ÷ 365`` of the spec. Exact rational
    arithmetic, so a long rate never loses its last cent to a Decimal context.
    """
    exact = Fraction(principal_cents) * Fraction(annual_rate) / 100 * year_fraction(period, convention)
    return -(-exact.numerator // exact.denominator)


def first_cycle_period(cycle_interval: InterestInterval, activated_on: date, maturity: date) -> Period | None:
    """§6.3: the first cycle begins on the activation day, truncated at maturity."""
    return truncate(period_from(cycle_interval, activated_on), maturity)


def next_cycle_period(cycle_interval: InterestInterval, previous: Period, maturity: date) -> Period | None:
    """§6.3: the cycle after ``previous`` (from its natural period, not its truncated one), truncated
    at maturity; None once it would start after maturity (no cycles start after maturity)."""
    return truncate(next_period(cycle_interval, period_from(cycle_interval, previous.start)), maturity)


def first_accrual_period(accrual_interval: InterestInterval, cycle: Period) -> Period:
    """§6.3: the first accrual period of a cycle, truncated at the cycle's end."""
    first = truncate(period_from(accrual_interval, cycle.start), cycle.end)
    assert first is not None  # a cycle's start is never after its end
    return first


def accrual_period_after(accrual_interval: InterestInterval, period: Period, cycle: Period) -> Period | None:
    """The accrual period after ``period`` inside ``cycle``; None when ``period`` was its last."""
    return truncate(next_period(accrual_interval, period), cycle.end)


def accrual_periods(accrual_interval: InterestInterval, cycle: Period) -> list[Period]:
    """Every accrual period of a cycle, in order (the repayment plan's projection, tests)."""
    out, p = [], first_accrual_period(accrual_interval, cycle)
    while p is not None:
        out.append(p)
        p = accrual_period_after(accrual_interval, p, cycle)
    return out


def cycle_periods(cycle_interval: InterestInterval, activated_on: date, maturity: date) -> list[Period]:
    """Every cycle of a facility, in order."""
    out, c = [], first_cycle_period(cycle_interval, activated_on, maturity)
    while c is not None:
        out.append(c)
        c = next_cycle_period(cycle_interval, c, maturity)
    return out
