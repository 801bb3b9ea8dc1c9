"""The report run store (migration 0100_reports): runs (events + read-model row), their reports and files.

A run's business identity is its ``run_key`` (``manual:<idempotency key or run id>``,
``scheduled:<date>``): queueing the same key twice reaches the same run. A report and its files
are written once per (run, definition): a retried activity finds them and writes nothing again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.reports.tables import report_files, report_runs, reports
from domain.reports.catalogue import BY_ID
from domain.reports.errors import ReportRunNotFound
from domain.reports.run import GeneratedFile, ReportRun


async def queue_run(conn: AsyncConnection, run: ReportRun) -> ReportRun:
    """Insert the queued run, or return the one already queued under its ``run_key``."""
    row = (await conn.execute(insert(report_runs).values(
        id=run.id, run_key=run.run_key, state=run.state.value, run_type=run.run_type.value,
        definition_id=run.definition_id, as_of_date=run.as_of_date, requested_by=run.requested_by,
        version=len(run.pending)).on_conflict_do_nothing(index_elements=["run_key"])
        .returning(report_runs.c.id))).first()
    if row is None:
        existing = (await conn.execute(text("SELECT id FROM report_runs WHERE run_key = :k"),
                                       {"k": run.run_key})).scalar_one()
        return await load_run(conn, str(existing))
    await event_store.save_entity(conn, run)
    return run


async def load_run(conn: AsyncConnection, run_id: str, *, lock: bool = False) -> ReportRun:
    if lock:
        await conn.execute(text("SELECT 1 FROM report_runs WHERE id = CAST(:id AS uuid) FOR UPDATE"), {"id": run_id})
    run = await event_store.load_entity(conn, ReportRun, run_id)
    if run is None:
        raise ReportRunNotFound(f"Report run {run_id} does not exist.")
    return run


async def save_run(conn: AsyncConnection, run: ReportRun) -> None:
    if not run.pending:
        return
    await event_store.save_entity(conn, run)
    await conn.execute(report_runs.update().where(report_runs.c.id == run.id).values(
        state=run.state.value, start_time=run.start_time, finished_at=run.finished_at, error=run.error,
        version=run.version))


async def report_of(conn: AsyncConnection, run_id: str, definition_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(text(
        "SELECT id, row_count FROM reports WHERE run_id = CAST(:r AS uuid) AND definition_id = :d"),
        {"r": run_id, "d": definition_id})).first()
    if row is None:
        return None
    files = (await conn.execute(text(
        "SELECT extension, path_in_bucket, size_bytes FROM report_files WHERE report_id = :id ORDER BY extension"),
        {"id": row.id})).all()
    return {"id": str(row.id), "row_count": row.row_count,
            "files": [GeneratedFile(extension=f.extension, path_in_bucket=f.path_in_bucket, size_bytes=f.size_bytes)
                      for f in files]}


async def record_report(conn: AsyncConnection, report_id: str, run_id: str, definition_id: str, row_count: int,
                        files: list[tuple[GeneratedFile, str]]) -> None:
    """The report of (run, definition) and its files (``(file, content type)``), once."""
    d = BY_ID[definition_id]
    inserted = (await conn.execute(insert(reports).values(
        id=report_id, run_id=run_id, external_id=d.external_id(run_id), definition_id=definition_id, norm=d.norm,
        name=d.id, friendly_name=d.friendly_name, row_count=row_count).on_conflict_do_nothing()
        .returning(reports.c.id))).first()
    if inserted is None:
        return
    for f, content_type in files:
        await conn.execute(insert(report_files).values(
            report_id=report_id, extension=f.extension, path_in_bucket=f.path_in_bucket, content_type=content_type,
            size_bytes=f.size_bytes))


def run_dict(r) -> dict[str, Any]:
    d = BY_ID.get(r.definition_id) if r.definition_id else None
    return {"id": str(r.id), "state": r.state, "run_type": r.run_type, "definition_id": r.definition_id,
            "requested_report": ({"report_definition_id": d.definition_id, "norm": d.norm, "name": d.friendly_name}
                                 if d else None),
            "as_of_date": r.as_of_date, "error": r.error, "requested_by": r.requested_by, "start_time": r.start_time,
            "finished_at": r.finished_at, "created_at": r.created_at}


async def reports_of_runs(conn: AsyncConnection, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each run's reports, with their files (plain dicts)."""
    out: dict[str, list[dict[str, Any]]] = {rid: [] for rid in run_ids}
    if not run_ids:
        return out
    rows = await conn.execute(text(
        "SELECT r.id, r.run_id, r.external_id, r.definition_id, r.norm, r.name, r.friendly_name, r.row_count,"
        " r.created_at, coalesce(json_agg(json_build_object('extension', f.extension, 'path_in_bucket',"
        " f.path_in_bucket, 'content_type', f.content_type, 'size_bytes', f.size_bytes) ORDER BY f.extension)"
        " FILTER (WHERE f.report_id IS NOT NULL), '[]') AS files"
        " FROM reports r LEFT JOIN report_files f ON f.report_id = r.id"
        " WHERE r.run_id = ANY(CAST(:ids AS uuid[])) GROUP BY r.id ORDER BY r.definition_id"), {"ids": run_ids})
    for r in rows:
        out[str(r.run_id)].append({"id": str(r.id), "external_id": r.external_id, "definition_id": r.definition_id,
                                   "norm": r.norm, "name": r.friendly_name, "row_count": r.row_count,
                                   "created_at": r.created_at, "files": list(r.files)})
    return out


async def run_with_reports(conn: AsyncConnection, run_id: str) -> dict[str, Any]:
    row = (await conn.execute(report_runs.select().where(report_runs.c.id == run_id))).first()
    if row is None:
        raise ReportRunNotFound(f"Report run {run_id} does not exist.")
    return {**run_dict(row), "reports": (await reports_of_runs(conn, [run_id]))[run_id]}


async def recent_runs(conn: AsyncConnection, limit: int = 10) -> list[dict[str, Any]]:
    """The latest ``limit`` runs, newest first, each with its reports and their files (plain dicts:
    ids and states as strings, dates and instants as ``date`` / ``datetime``)."""
    rows = (await conn.execute(report_runs.select().order_by(report_runs.c.created_at.desc(),
                                                             report_runs.c.id.desc()).limit(limit))).all()
    by_run = await reports_of_runs(conn, [str(r.id) for r in rows])
    return [{**run_dict(r), "reports": by_run[str(r.id)]} for r in rows]


async def report_file(conn: AsyncConnection, report_id: str, extension: str):
    return (await conn.execute(text(
        "SELECT path_in_bucket, content_type FROM report_files WHERE report_id = CAST(:r AS uuid)"
        " AND extension = :e"), {"r": report_id, "e": extension})).first()


async def is_report_file(conn: AsyncConnection, path: str) -> bool:
    """True iff ``path`` is a published report file (the local-storage route serves it)."""
    return (await conn.execute(text("SELECT EXISTS (SELECT 1 FROM report_files WHERE path_in_bucket = :p)"),
                               {"p": path})).scalar_one()
