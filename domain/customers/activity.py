"""Activity classification by time since the customer's last activity (product brief names).

Active: less than ``inactive_after_years`` since the last activity; Inactive: from that up to and
including ``suspended_after_years``; Suspended: more than that. Years are calendar years (an
anniversary on 29 February falls on 28 February). lana keeps this on the deposit account as
Active/Inactive/Escheatable with day thresholds (customers-deposits.md §9); as there, Suspended is
terminal and the class never blocks operations by itself.
"""

from __future__ import annotations

from datetime import datetime

from domain.customers.model import Activity


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return moment.replace(year=moment.year + years, day=28)


def classify(last_activity: datetime, as_of: datetime, *, inactive_after_years: int = 1,
             suspended_after_years: int = 10) -> Activity:
    if as_of > add_years(last_activity, suspended_after_years):
        return Activity.SUSPENDED
    if as_of >= add_years(last_activity, inactive_after_years):
        return Activity.INACTIVE
    return Activity.ACTIVE


def closing_time(now: datetime) -> datetime:
    """The end-of-day instant a daily run classifies as of: 00:00 UTC of ``now``'s day (spec §9
    default closing time), so a run at 00:05 or 03:00 gives the same, reproducible answer."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
