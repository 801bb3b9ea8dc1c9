"""The business clock and the end-of-day records in PostgreSQL.

A real clock is the wall clock (or the caller's: a workflow passes Temporal's). A simulated one is
the single row of ``business_clock``, created at the wall clock the first time it is read and moved
only by :func:`move_simulated` (the API's advance), so the API and every worker read the same
instant. ``end_of_day_runs`` holds each completed date with its summary: the producer starts after
the latest one.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.time.business_day import BusinessCalendar, ClockMode
from domain.time.end_of_day import EndOfDaySummary, RunStatus
from ground.settings import Settings


def calendar_of(settings: Settings) -> BusinessCalendar:
    return BusinessCalendar(timezone=settings.business_timezone, closing_time=settings.business_closing_time)


def mode_of(settings: Settings) -> ClockMode:
    return ClockMode(settings.clock_mode)


async def simulated_now(conn: AsyncConnection, *, for_update: bool = False, start: datetime | None = None) -> datetime:
    """The simulated instant (created on first use at ``start``, default the wall clock; needs a
    writing transaction then). ``for_update`` locks the row until the transaction ends."""
    lock = " FOR UPDATE" if for_update else ""
    found = (await conn.execute(text(f"SELECT simulated_now FROM business_clock WHERE id = 1{lock}"))).scalar()
    if found is None:
        await conn.execute(text("INSERT INTO business_clock (id, simulated_now) VALUES (1, :now) "
                                "ON CONFLICT DO NOTHING"), {"now": start or datetime.now(UTC)})
        found = (await conn.execute(text(f"SELECT simulated_now FROM business_clock WHERE id = 1{lock}"))).scalar_one()
    return found


async def now(conn: AsyncConnection, mode: ClockMode, real_now: datetime | None = None, *,
              start: datetime | None = None) -> datetime:
    """The business clock's instant: the simulated one (created at ``start`` the first time), or
    ``real_now`` (default: the wall clock)."""
    if mode is ClockMode.SIMULATED:
        return await simulated_now(conn, start=start)
    return real_now or datetime.now(UTC)


async def business_now(conn: AsyncConnection, settings: Settings,
                       real_now: datetime | None = None) -> tuple[datetime, date]:
    """The business clock's instant and the business date it belongs to (§12.1): what a step
    dates its records and postings with. On a simulated clock both follow the operator's advances,
    not the wall clock or the calling workflow's."""
    instant = await now(conn, mode_of(settings), real_now, start=settings.simulated_clock_start)
    return instant, calendar_of(settings).date_of(instant)


async def move_simulated(conn: AsyncConnection, instant: datetime) -> None:
    """Set the simulated instant (forward only: a stale writer never moves it back)."""
    await conn.execute(text("UPDATE business_clock SET simulated_now = :t, updated_at = now() "
                            "WHERE id = 1 AND simulated_now < :t"), {"t": instant})


async def last_completed(conn: AsyncConnection) -> date | None:
    return (await conn.execute(text("SELECT max(business_date) FROM end_of_day_runs"))).scalar()


async def record_completion(conn: AsyncConnection, summary: EndOfDaySummary) -> None:
    """Record the date as completed; a rerun (explicit) updates the summary and counts the run."""
    assert summary.status is not RunStatus.RUNNING
    await conn.execute(text(
        "INSERT INTO end_of_day_runs (business_date, status, summary) VALUES (:d, :s, CAST(:j AS jsonb)) "
        "ON CONFLICT (business_date) DO UPDATE SET status = EXCLUDED.status, summary = EXCLUDED.summary, "
        "completed_at = now(), runs = end_of_day_runs.runs + 1"),
        {"d": summary.business_date, "s": summary.status.value, "j": summary.model_dump_json()})


async def completed(conn: AsyncConnection, dates: list[date]) -> dict[date, EndOfDaySummary]:
    rows = await conn.execute(text("SELECT business_date, summary FROM end_of_day_runs "
                                   "WHERE business_date = ANY(:d)"), {"d": dates})
    return {r.business_date: EndOfDaySummary.model_validate(_json(r.summary)) for r in rows}


async def runs_of(conn: AsyncConnection, day: date) -> int:
    """How many times the date's run completed (0: not yet)."""
    return (await conn.execute(text("SELECT runs FROM end_of_day_runs WHERE business_date = :d"),
                               {"d": day})).scalar() or 0


async def advance_target(conn: AsyncConnection, request_key: str | None, first: date, target: date) -> tuple[date, date]:
    """The dates an advance request closes (first, last): stored under its key on the first call and
    answered from there on a retry, so a repeated request never closes more dates."""
    if request_key is None:
        return first, target
    await conn.execute(text("INSERT INTO business_clock_advances (request_key, first_date, target_date) "
                            "VALUES (:k, :f, :t) ON CONFLICT DO NOTHING"), {"k": request_key, "f": first, "t": target})
    row = (await conn.execute(text("SELECT first_date, target_date FROM business_clock_advances "
                                   "WHERE request_key = :k"), {"k": request_key})).one()
    return row.first_date, row.target_date


def _json(value) -> dict:
    return json.loads(value) if isinstance(value, str) else value
