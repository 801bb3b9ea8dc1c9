"""The business clock (api-surface.md DC3/DC4): ``GET /time`` and, on a simulated clock only,
``POST /time/advance-to-next-end-of-day``.

An advance moves the simulated clock one closing at a time; after each move it runs, one by one and
in order, every date that has closed and is not recorded complete (``EndOfDay``, started or
reached by its date's workflow id, so a date never runs twice) and waits for it. It answers with
the dates it closed and their summaries. One advance runs at a time (a second one is 409
``time.advance_in_progress``). With an ``Idempotency-Key`` the last date a request closes is stored
on its first attempt: a repeat (after a 503 because a run outlasted the wait, say) goes on to that
same date and never further.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError

from activities.time import clock
from api.authz import Principal, require
from api.deps import EngineDep, TemporalDep
from api.enums import ApiEnum
from api.idempotency import idempotent
from domain.credit.end_of_day import Step
from domain.errors import ServiceUnavailable
from domain.time.business_day import BusinessCalendar, ClockMode
from domain.time.end_of_day import EndOfDaySummary, RunStatus
from domain.time.errors import AdvanceInProgress, ClockNotAdvanceable, EndOfDayNotFinished
from ground.settings import Settings
from workflows.end_of_day import start_end_of_day

router = APIRouter(tags=["time"])

ADVANCE_LOCK = 0x4C414E41_54494D45  # pg advisory lock id of "one advance at a time" ("LANATIME")


class TimeOut(BaseModel):
    now: datetime = Field(description="The business clock's instant (UTC)")
    business_date: date
    timezone: str
    closing_time: str = Field(description="Wall-clock time (HH:MM) a business date closes at, in `timezone`")
    next_end_of_day: datetime = Field(description="When the current business date closes (UTC)")
    clock: ApiEnum[ClockMode]
    can_advance: bool
    last_completed_end_of_day: date | None


class StepOut(BaseModel):
    step: ApiEnum[Step]
    pages: int
    processed: int
    failed: int
    failures: list[dict]
    events: int
    signalled: int


class EndOfDayOut(BaseModel):
    business_date: date
    status: ApiEnum[RunStatus]
    processed: int
    failed: int
    steps: list[StepOut]
    completed_at: datetime | None

    @classmethod
    def of(cls, s: EndOfDaySummary) -> EndOfDayOut:
        return cls(business_date=s.business_date, status=s.status, processed=s.processed, failed=s.failed,
                   completed_at=s.completed_at,
                   steps=[StepOut(step=r.step, pages=r.pages, processed=r.processed, failed=r.failed,
                                  failures=[f.model_dump() for f in r.failures], events=r.events,
                                  signalled=r.signalled) for r in s.steps])


class AdvanceIn(BaseModel):
    days: int = Field(1, ge=1, le=366, description="Closings to advance through, one at a time")


class AdvanceOut(BaseModel):
    time: TimeOut
    end_of_days: list[EndOfDayOut] = Field(description="The dates this request closed, oldest first")


async def _time(conn: AsyncConnection, settings: Settings) -> TimeOut:
    cal, mode = clock.calendar_of(settings), clock.mode_of(settings)
    now = await clock.now(conn, mode, start=settings.simulated_clock_start)
    return TimeOut(now=now, business_date=cal.date_of(now), timezone=cal.timezone,
                   closing_time=cal.closing_time.strftime("%H:%M"), next_end_of_day=cal.next_closing(now),
                   clock=mode, can_advance=mode is ClockMode.SIMULATED,
                   last_completed_end_of_day=await clock.last_completed(conn))


@router.get("/time", response_model=TimeOut, summary="The business clock: now, business date, next end of day")
async def get_time(request: Request, engine: EngineDep,
                   principal: Principal = require("domain-config:exposed-config:read")) -> TimeOut:
    async with engine.begin() as conn:  # a simulated clock is created on first read
        return await _time(conn, request.app.state.settings)


@router.post("/time/advance-to-next-end-of-day", response_model=AdvanceOut,
             summary="Advance the simulated clock through the next closing(s), running each end of day",
             responses={409: {"description": "Not a simulated clock (`time.clock_not_advanceable`), or "
                                             "another advance is running (`time.advance_in_progress`)"},
                        503: {"description": "An end of day did not finish in time (`time.end_of_day_not_finished`, "
                                             "Retry-After): repeat with the same Idempotency-Key"}})
async def advance(request: Request, engine: EngineDep, temporal: TemporalDep,
                  body: AdvanceIn | None = Body(None),
                  principal: Principal = require("domain-config:exposed-config:write"),
                  idempotency_key: str | None = idempotent()) -> AdvanceOut:
    settings: Settings = request.app.state.settings
    if clock.mode_of(settings) is not ClockMode.SIMULATED:
        raise ClockNotAdvanceable("The business clock follows the wall clock (LANA_CLOCK_MODE=real); only a "
                                  "simulated clock is advanced by request.")
    days = (body or AdvanceIn()).days
    key = f"{principal.subject}/{idempotency_key}" if idempotency_key else None
    cal = clock.calendar_of(settings)
    async with _one_advance(engine):
        async with engine.begin() as conn:
            current = cal.date_of(await clock.simulated_now(conn, for_update=True, start=settings.simulated_clock_start))
            first, target = await clock.advance_target(conn, key, current, current + timedelta(days=days - 1))
        ran = await _advance_to(engine, temporal, settings, cal, target)
        closed = {first + timedelta(days=i) for i in range((target - first).days + 1)} | set(ran)
        async with engine.connect() as conn:
            done = await clock.completed(conn, sorted(closed))
            return AdvanceOut(time=await _time(conn, settings), end_of_days=[EndOfDayOut.of(s) for _, s in sorted(done.items())])


async def _advance_to(engine: AsyncEngine, temporal: Client, settings: Settings, cal: BusinessCalendar,
                      target: date) -> list[date]:
    """Run what has closed, move one closing, repeat, until ``target`` has closed and run. A date
    that closed earlier and never ran (a first advance on a new bank runs the last closed date; a
    request that stopped half-way leaves some) runs first, and is answered too."""
    ran: list[date] = []
    while True:
        async with engine.begin() as conn:
            now = await clock.simulated_now(conn, for_update=True)
            due = cal.dates_to_close(await clock.last_completed(conn), now)
        for day in due:
            await _run(temporal, settings, day)
            ran.append(day)
        if cal.date_of(now) > target:
            return ran
        async with engine.begin() as conn:
            await clock.move_simulated(conn, cal.next_closing(await clock.simulated_now(conn, for_update=True)))


async def _run(temporal: Client, settings: Settings, day: date) -> EndOfDaySummary:
    try:
        handle = await start_end_of_day(temporal, settings.temporal_task_queue, day,
                                        page_size=settings.end_of_day_page_size)
        return await asyncio.wait_for(handle.result(), settings.time_advance_wait_seconds)
    except TimeoutError as exc:
        raise EndOfDayNotFinished(f"The end of day of {day} is still running; repeat the request (with the same "
                                  "Idempotency-Key) to wait for it.", retry_after=5) from exc
    except RPCError as exc:
        raise ServiceUnavailable("Temporal is unreachable; the request is safe to repeat.", retry_after=2) from exc


@asynccontextmanager
async def _one_advance(engine: AsyncEngine) -> AsyncIterator[None]:
    """A session advisory lock on its own connection, held for the whole advance."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if not (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVANCE_LOCK})).scalar_one():
            raise AdvanceInProgress("Another advance of the business clock is running; retry when it has finished.",
                                    retry_after=2)
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVANCE_LOCK})



