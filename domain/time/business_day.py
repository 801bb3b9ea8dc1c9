"""The business day (credit.md §12.1): which date an instant belongs to, when a date closes, and
which dates have closed since the last completed end of day.

A business date D closes at the first ``closing_time`` (wall clock, in ``timezone``) after D begins:
with the default 00:00 that is the midnight ending D; with 17:00 it is 17:00 on D, and the evening
after it already belongs to D+1. Local times are resolved like ``datetime`` with ``fold=0``: a
closing time skipped by a DST gap closes at the instant the clocks jump (as if the gap's length
were added), a repeated one closes at its first occurrence. So closings never go backwards; a day
that a time zone skipped whole (Pacific/Apia, 30 December 2011) closes at the instant its
predecessor does, and runs (with nothing to do) like any other.

Every function takes and returns aware instants in UTC; nothing here reads a clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator

MIDNIGHT = time(0)
ONE_DAY = timedelta(days=1)


class ClockMode(StrEnum):
    REAL = "real"  # the business date follows the wall clock (production)
    SIMULATED = "simulated"  # an instant kept in PostgreSQL, moved forward by an operator (dev, demos)


def valid_timezone(name: str) -> str:
    """The IANA name, or ValueError (pydantic turns it into a validation error)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


class BusinessCalendar(BaseModel):
    """The bank's time zone and closing time (exposed settings ``timezone`` / ``closing-time``)."""

    model_config = ConfigDict(frozen=True)

    timezone: str = "UTC"
    closing_time: time = MIDNIGHT

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return valid_timezone(v)

    @field_validator("closing_time")
    @classmethod
    def _naive_minute(cls, v: time) -> time:
        if v.tzinfo is not None:
            raise ValueError("the closing time is a wall-clock time in the business time zone (no offset)")
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def closing_of(self, day: date) -> datetime:
        """The instant (UTC) at which business date ``day`` closes."""
        local_day = day + ONE_DAY if self.closing_time == MIDNIGHT else day
        return datetime.combine(local_day, self.closing_time, tzinfo=self.zone).astimezone(UTC)

    def date_of(self, instant: datetime) -> date:
        """The business date an instant belongs to: the D with closing(D-1) <= instant < closing(D)."""
        _aware(instant)
        day = instant.astimezone(self.zone).date()
        while instant >= self.closing_of(day):
            day += ONE_DAY
        while instant < self.closing_of(day - ONE_DAY):
            day -= ONE_DAY
        return day

    def next_closing(self, instant: datetime) -> datetime:
        """The first closing strictly after ``instant``: when the current business date ends."""
        return self.closing_of(self.date_of(instant))

    def last_closed(self, instant: datetime) -> date:
        """The latest business date whose closing is at or before ``instant``."""
        return self.date_of(instant) - ONE_DAY

    def dates_to_close(self, last_completed: date | None, instant: datetime, *, limit: int | None = None) -> list[date]:
        """The dates whose closing has passed at ``instant`` and that follow ``last_completed``, oldest
        first (at most ``limit``). Without a completed date only the latest closed date is due: a
        new bank starts its end-of-day history there instead of at the beginning of time."""
        last_closed = self.last_closed(instant)
        first = last_closed if last_completed is None else last_completed + ONE_DAY
        count = max((last_closed - first).days + 1, 0)
        if limit is not None:
            count = min(count, limit)
        return [first + timedelta(days=i) for i in range(count)]


def _aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("business time needs an aware instant (UTC)")
