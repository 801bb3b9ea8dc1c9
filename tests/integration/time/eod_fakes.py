"""Fake end-of-day steps for the orchestration tests: real page functions over a test table.

Each step pages, by id, over the rows of ``eod_items`` for that step not yet processed for the date
(``done_for < D``), marks them processed for D and counts the effect (``effects``), all in one
transaction per page: the same idempotency the real steps promise. Chosen ids fail (reported,
skipped, selected again on a later run); chosen ids emit a facility event; ``gate`` pauses a step
after a chosen page has committed (``paused`` tells the test it is there).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import workflow

from activities.credit import day_events
from domain.credit.end_of_day import FacilityEvent, FacilityEventKind, Step, StepFailure, StepPage

SCHEMA = """
CREATE TABLE IF NOT EXISTS eod_items (
    id        TEXT PRIMARY KEY,
    step      TEXT NOT NULL,
    facility  TEXT,
    done_for  DATE,
    effects   INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass
class Gate:
    step: Step
    after_page: int  # pause after this many pages of the step have committed (in this attempt)
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FakeSteps:
    engine: AsyncEngine
    calls: list[tuple[Step, date, str | None]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    emitting: dict[str, FacilityEventKind] = field(default_factory=dict)
    gate: Gate | None = None
    _pages: dict[Step, int] = field(default_factory=dict)

    async def create(self, step: Step, ids: list[str], facility: str | None = None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(SCHEMA))
            await conn.execute(text("INSERT INTO eod_items (id, step, facility) VALUES (:id, :s, :f)"),
                               [{"id": i, "s": step.value, "f": facility} for i in ids])

    async def effects(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(text("SELECT id, effects FROM eod_items ORDER BY id"))
            return {r.id: r.effects for r in rows}

    def register(self, functions: dict) -> None:
        for step in Step:
            functions[step] = self._page_fn(step)

    def _page_fn(self, step: Step):
        async def page(engine: AsyncEngine, day: date, after: str | None, limit: int) -> StepPage:
            self.calls.append((step, day, after))
            async with engine.begin() as conn:
                await conn.execute(text(SCHEMA))
                rows = (await conn.execute(text(
                    "SELECT id, facility FROM eod_items WHERE step = :s AND (done_for IS NULL OR done_for < :d) "
                    "AND (CAST(:after AS TEXT) IS NULL OR id > :after) ORDER BY id LIMIT :n"),
                    {"s": step.value, "d": day, "after": after, "n": limit})).all()
                ok = [r for r in rows if r.id not in self.failing]
                await conn.execute(text("UPDATE eod_items SET done_for = :d, effects = effects + 1 "
                                        "WHERE id = ANY(:ids)"), {"d": day, "ids": [r.id for r in ok]})
                events = [FacilityEvent(facility_id=r.facility, kind=self.emitting[r.id], business_date=day,
                                        detail={"item": r.id}) for r in ok if r.id in self.emitting]
                await day_events.store(conn, step, events)  # the real steps' outbox, same transaction
            self._pages[step] = self._pages.get(step, 0) + 1
            gate = self.gate
            if gate is not None and gate.step is step and self._pages[step] == gate.after_page:
                gate.paused.set()
                await gate.release.wait()  # committed, not yet answered: a crash here loses the answer (not the events)
            return StepPage(
                step=step, business_date=day, processed=len(ok),
                failures=[StepFailure(entity_id=r.id, code="test.refused", message="chosen to fail")
                          for r in rows if r.id in self.failing],
                events=events,
                next_after=rows[-1].id if len(rows) == limit else None)

        return page


@workflow.defn(name="FakeFacilityWorkflow")
class FakeFacilityWorkflow:
    """Stands in for a facility's workflow (id ``credit-facility-{id}``): keeps the events it hears."""

    def __init__(self) -> None:
        self.events: list[FacilityEvent] = []
        self.done = False

    @workflow.run
    async def run(self) -> list[FacilityEvent]:
        await workflow.wait_condition(lambda: self.done)
        return self.events

    @workflow.signal(name="end_of_day_event")
    def end_of_day_event(self, event: FacilityEvent) -> None:
        self.events.append(event)

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def heard(self) -> list[FacilityEvent]:
        return self.events
