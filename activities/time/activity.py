"""The EndOfDay activities: which dates are due, one whole step of one date, the completion record.

``run_step`` runs a step's keyset pages in a loop inside one activity (so a step over 100,000
facilities costs the workflow two history events, not two per page). A page stores its facility
events in its own transaction (the outbox, ``activities/credit/day_events.py``); after each page
the activity signals what is undelivered for its date and step and marks it delivered, then
heartbeats the cursor and the running totals. A retried attempt (a crash, a worker restart, a
transient error) first sends what is still undelivered, then resumes from the last heartbeat: pages
from there on run again, and since a page is idempotent (an entity processed for D is no longer
selected for D) they change nothing twice. A missing or closed facility workflow is not an error
(counted as not delivered).
"""

from __future__ import annotations

import asyncio
from datetime import date

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from activities.boundary import lana_activity
from activities.credit import day_events
from activities.credit.end_of_day import run_page
from activities.time import clock
from domain.credit.end_of_day import FacilityEvent
from domain.time.end_of_day import (
    FACILITY_EVENT_SIGNAL,
    DatesToCloseInput,
    EndOfDaySummary,
    StepCursor,
    StepInput,
    StepResult,
    facility_workflow_id,
)
from ground.settings import Settings

log = structlog.get_logger(__name__)

SIGNALS_IN_FLIGHT = 64
SIGNAL_ATTEMPTS = 5
_TRANSIENT = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED,
              RPCStatusCode.CANCELLED)


class EndOfDayActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.calendar = clock.calendar_of(settings)
        self.mode = clock.mode_of(settings)
        self.start = settings.simulated_clock_start

    @lana_activity("end_of_day.dates_to_close")
    async def dates_to_close(self, inp: DatesToCloseInput) -> list[date]:
        """The dates whose closing has passed on the business clock and that follow the last
        completed one, oldest first (at most ``inp.limit``)."""
        async with self.engine.begin() as conn:
            instant = await clock.now(conn, self.mode, inp.now, start=self.start)
            last = await clock.last_completed(conn)
        return self.calendar.dates_to_close(last, instant, limit=inp.limit)

    @lana_activity("end_of_day.run_step")
    async def run_step(self, inp: StepInput) -> StepResult:
        details = activity.info().heartbeat_details
        cursor = (StepCursor.model_validate(details[0]) if details
                  else StepCursor(result=StepResult(step=inp.step)))
        if details:
            log.info("end-of-day step resumes", step=inp.step.value, business_date=str(inp.business_date),
                     after=cursor.after, pages=cursor.result.pages)
        await self._deliver_pending(inp, cursor)  # an earlier attempt's committed page may be unsignalled
        while not cursor.done:
            page = await run_page(self.engine, inp.step, inp.business_date, cursor.after, inp.page_size)
            cursor.result.add(page)
            cursor.after, cursor.done = page.next_after, page.next_after is None
            if page.events:
                await self._deliver_pending(inp, cursor)
            activity.heartbeat(cursor)
        return cursor.result

    async def _deliver_pending(self, inp: StepInput, cursor: StepCursor) -> None:
        """Signal every undelivered event of the date's step (the outbox), then mark it delivered."""
        while batch := await day_events.undelivered(self.engine, inp.business_date, inp.step):
            await self._deliver([e for _, e in batch], cursor.result)
            await day_events.mark_delivered(self.engine, [i for i, _ in batch])
            activity.heartbeat(cursor)

    async def _deliver(self, events: list[FacilityEvent], result: StepResult) -> None:
        client = activity.client()
        gate = asyncio.Semaphore(SIGNALS_IN_FLIGHT)

        async def one(event: FacilityEvent) -> bool:
            handle = client.get_workflow_handle(facility_workflow_id(event.facility_id))
            async with gate:
                for attempt in range(SIGNAL_ATTEMPTS):
                    try:
                        await handle.signal(FACILITY_EVENT_SIGNAL, event)
                        return True
                    except RPCError as exc:
                        if exc.status == RPCStatusCode.NOT_FOUND:  # never started, or closed
                            return False
                        if exc.status not in _TRANSIENT or attempt == SIGNAL_ATTEMPTS - 1:
                            raise  # the activity retries; the events are still undelivered
                        await asyncio.sleep(0.2 * 2 ** attempt)
            return False

        delivered = await asyncio.gather(*(one(e) for e in events))
        result.signalled += sum(delivered)
        result.not_delivered += len(delivered) - sum(delivered)

    @lana_activity("end_of_day.record_completion")
    async def record_completion(self, summary: EndOfDaySummary) -> None:
        async with self.engine.begin() as conn:
            await clock.record_completion(conn, summary)
