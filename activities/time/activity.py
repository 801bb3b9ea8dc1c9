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

Up to ``end_of_day_pages_in_flight`` pages of a step run at once (``run_pages``): each page's
range is measured ahead (``page_end``), so the pages are disjoint key ranges, each its own
transaction; their results are taken in key order, and the heartbeated cursor only ever moves past
a page once it and every page before it have committed. A crash with a later page committed and
an earlier one not resumes before the earlier one; the later one then runs again and finds its
entities done for D.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import date

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from activities.boundary import lana_activity
from activities.credit import day_events
from activities.credit.end_of_day import can_measure, page_end, run_page
from activities.time import clock
from domain.credit.end_of_day import FacilityEvent, StepPage
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


async def run_pages(run: Callable[[str | None, str | None], Awaitable[StepPage]],
                    measure: Callable[[str | None], Awaitable[str | None]], after: str | None, in_flight: int,
                    on_page: Callable[[StepPage], Awaitable[None]]) -> None:
    """A step's pages from ``after`` on, up to ``in_flight`` at a time: ``measure(a)`` is where the
    page after ``a`` ends (None: the last page, run unbounded), ``run(a, end)`` runs the page
    ``(a, end]``; ``on_page`` gets every page in key order, once the ones before it are done. An
    error of any page cancels the pages still running and is raised at once (their transactions
    roll back or, if committed, are idempotent)."""
    running: deque[asyncio.Future[StepPage]] = deque()
    last = False  # the unbounded last page is running
    try:
        while True:
            while not last and len(running) < in_flight:
                end = await measure(after)
                running.append(asyncio.ensure_future(run(after, end)))
                last, after = end is None, after if end is None else end
            while not running[0].done():  # the next page in key order; a later one's error stops all at once
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    if not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
            page = running.popleft().result()
            await on_page(page)
            if last and not running:
                if page.next_after is None:
                    return
                after, last = page.next_after, False  # more appeared meanwhile: go on from there
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


class EndOfDayActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.calendar = clock.calendar_of(settings)
        self.mode = clock.mode_of(settings)
        self.start = settings.simulated_clock_start
        self.in_flight = settings.end_of_day_pages_in_flight

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

        async def done(page: StepPage) -> None:
            cursor.result.add(page)
            cursor.after, cursor.done = page.next_after, page.next_after is None
            if page.events:
                await self._deliver_pending(inp, cursor)
            activity.heartbeat(cursor)

        if cursor.done:
            return cursor.result
        if self.in_flight > 1 and can_measure(inp.step):
            await run_pages(
                lambda after, until: run_page(self.engine, inp.step, inp.business_date, after, inp.page_size, until),
                lambda after: page_end(self.engine, inp.step, inp.business_date, after, inp.page_size),
                cursor.after, self.in_flight, done)
            return cursor.result
        while not cursor.done:
            await done(await run_page(self.engine, inp.step, inp.business_date, cursor.after, inp.page_size))
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
