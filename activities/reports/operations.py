"""Report run operations: each one transaction (queue, start, finish), and the generation of one
definition's files (a read transaction for the cursor, then the report's rows in their own)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.reports import store
from activities.reports.files import write_report
from activities.reports.generators import GENERATORS, Context, empty
from activities.storage import DocumentStorage
from domain.reports.catalogue import BY_ID, Kind
from domain.reports.errors import IdentityFieldsMissing
from domain.reports.run import GenerateResult, ReportRun, RunSummary, RunType, scheduled_run_key

REPORT_NS = uuid.UUID("6f1d0c55-8a43-4c1e-9d0a-3f0f4b6e2a11")


def report_id(run_id: str, definition_id: str) -> str:
    """A report's id from its business identity (a retried generation names the same report)."""
    return str(uuid.uuid5(REPORT_NS, f"{run_id}:{definition_id}"))


def scheduled_run_id(day: date) -> str:
    return str(uuid.uuid5(REPORT_NS, scheduled_run_key(day)))


async def queue(engine: AsyncEngine, run: ReportRun) -> ReportRun:
    async with engine.begin() as conn:
        return await store.queue_run(conn, run)


async def start(engine: AsyncEngine, run_id: str, at: datetime) -> None:
    async with engine.begin() as conn:
        run = await store.load_run(conn, run_id, lock=True)
        if run.start(at):
            await store.save_run(conn, run)


async def finish(engine: AsyncEngine, run_id: str, at: datetime, failures: dict[str, str]) -> RunSummary:
    async with engine.begin() as conn:
        run = await store.load_run(conn, run_id, lock=True)
        if run.finish(at, failures):
            await store.save_run(conn, run)
        produced = [r["definition_id"] for r in (await store.reports_of_runs(conn, [run_id]))[run_id]]
    return RunSummary(run_id=run_id, state=run.state, produced=produced, failures=run.failures)


async def generate(engine: AsyncEngine, storage: DocumentStorage, run_id: str, definition_id: str,
                   as_of: date | None, report_date: date, *, on_progress=lambda n: None) -> GenerateResult:
    """The files of one definition for the run, once: a report already recorded for (run,
    definition) is returned as it is (a retried activity uploads nothing again)."""
    d = BY_ID[definition_id]
    if d.kind == Kind.IDENTITY_FIELDS:
        raise IdentityFieldsMissing(f"{definition_id} needs customer identity fields that are not stored yet.")
    async with engine.connect() as conn:
        done = await store.report_of(conn, run_id, definition_id)
    if done is not None:
        return GenerateResult(definition_id=definition_id, row_count=done["row_count"] or 0, files=done["files"])
    gen = GENERATORS.get(definition_id, empty) if d.kind in (Kind.OWN_DATA, Kind.CONSTANT) else empty
    async with engine.connect() as conn:
        # one snapshot for the whole file (REPEATABLE READ, read only): the totals agree with each other
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            ctx = Context(conn, report_date=report_date, as_of=as_of if d.supports_as_of else None)
            rows, files = await write_report(d, run_id, gen(ctx), storage, on_progress=on_progress)
    async with engine.begin() as conn:
        await store.record_report(conn, report_id(run_id, definition_id), run_id, definition_id, rows, files)
    return GenerateResult(definition_id=definition_id, row_count=rows, files=[f for f, _ in files])


async def queue_scheduled(engine: AsyncEngine, day: date) -> ReportRun:
    """The scheduled run of ``day`` (one per date whatever the number of ticks)."""
    run = ReportRun.queue(scheduled_run_id(day), scheduled_run_key(day), RunType.SCHEDULED, None, day,
                          "system:report-schedule")
    return await queue(engine, run)
