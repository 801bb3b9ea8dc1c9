"""The audit log: append entries, seal them into the hash chain, verify the chain.

Writers only INSERT (one row, no lock shared between requests). Sealing is done afterwards by one
sealer at a time (advisory lock), in chain order ``(tx_id, id)`` over entries whose inserting
transaction is older than every transaction still running, so no entry can later appear inside
the sealed prefix. ``verify`` recomputes the chain and names the first entry that does not match.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit.chain import GENESIS, AuditRecord, link

log = structlog.get_logger(__name__)
metadata = MetaData()

audit_entries = Table(
    "audit_entries", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("subject", String(128), nullable=False),
    Column("object", String(255), nullable=False),
    Column("action", String(128), nullable=False),
    Column("authorized", Boolean, nullable=False),
    Column("recorded_at", DateTime(timezone=True)),
    Column("request_id", String(128)),
    Column("workflow_id", String(255)),
)
audit_seals = Table(
    "audit_seals", metadata,
    Column("position", BigInteger, primary_key=True),
    Column("entry_id", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
)

SEALER_LOCK = 0x4C414E41_41554454  # "LANA" "AUDT"


async def record(conn: AsyncConnection, subject: str, object: str, action: str, authorized: bool, *,
                 request_id: str | None = None, workflow_id: str | None = None) -> int:
    """Append one entry on ``conn`` (inside the caller's transaction when it has one)."""
    result = await conn.execute(
        insert(audit_entries).returning(audit_entries.c.id),
        {"subject": subject, "object": object, "action": action, "authorized": authorized,
         "request_id": request_id, "workflow_id": workflow_id},
    )
    return result.scalar_one()


async def record_system_action(conn: AsyncConnection, object: str, action: str, *,
                               subject: str = "system:workflow", workflow_id: str | None = None) -> int:
    """Audit an action taken by the system (a workflow, a job, bootstrap) inside the caller's
    transaction, so it is rolled back with the business change (§C2 ``record_system_entry_in_op``)."""
    if not subject.startswith("system:"):
        subject = f"system:{subject}"
    return await record(conn, subject, object, action, True, workflow_id=workflow_id)


def _record(row) -> AuditRecord:
    return AuditRecord(row.id, row.subject, row.object, row.action, row.authorized, row.recorded_at,
                       row.request_id, row.workflow_id)


_COLS = "e.id, e.subject, e.object, e.action, e.authorized, e.recorded_at, e.request_id, e.workflow_id"


async def seal(engine: AsyncEngine, batch: int = 5000) -> int:
    """Chain every entry that can be sealed now; returns how many were sealed (0 if another
    sealer holds the lock)."""
    total = 0
    while True:
        async with engine.begin() as conn:
            got = (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEALER_LOCK})).scalar()
            if not got:
                return total
            last = (await conn.execute(text(
                "SELECT s.position, s.hash, e.tx_id::text AS tx, e.id FROM audit_seals s "
                "JOIN audit_entries e ON e.id = s.entry_id ORDER BY s.position DESC LIMIT 1"))).first()
            position, prev = (last.position, bytes(last.hash)) if last else (0, GENESIS)
            cursor = "(e.tx_id, e.id) > (CAST(:tx AS xid8), :id) AND " if last else ""
            rows = (await conn.execute(text(
                f"SELECT {_COLS} FROM audit_entries e WHERE {cursor}"
                "e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.tx_id, e.id LIMIT :n"),
                {"tx": int(last.tx) if last else None, "id": last.id if last else None, "n": batch})).all()
            if not rows:
                return total
            seals = []
            for row in rows:
                prev = link(prev, _record(row))
                position += 1
                seals.append({"position": position, "entry_id": row.id, "hash": prev})
            await conn.execute(insert(audit_seals), seals)
            total += len(seals)
        if len(rows) < batch:
            return total


@dataclass
class VerifyReport:
    sealed: int
    unsealed: int
    first_bad_entry: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad_entry is None and self.problem is None


async def verify(engine: AsyncEngine, batch: int = 10000) -> VerifyReport:
    """Recompute the chain over every sealed entry, in chain order."""
    prev, checked, position = GENESIS, 0, 0
    async with engine.connect() as conn:
        while True:
            rows = (await conn.execute(text(
                f"SELECT s.position, s.entry_id, s.hash, e.id IS NOT NULL AS present, {_COLS} "
                "FROM audit_seals s LEFT JOIN audit_entries e ON e.id = s.entry_id "
                "WHERE s.position > :p ORDER BY s.position LIMIT :n"), {"p": position, "n": batch})).all()
            for row in rows:
                position += 1
                if row.position != position:
                    return VerifyReport(checked, await _unsealed(conn), row.entry_id,
                                        f"seal {position} is missing")
                if not row.present:
                    return VerifyReport(checked, await _unsealed(conn), row.entry_id,
                                        f"entry {row.entry_id} was deleted")
                prev = link(prev, _record(row))
                if prev != bytes(row.hash):
                    return VerifyReport(checked, await _unsealed(conn), row.entry_id,
                                        f"entry {row.entry_id} does not match its seal (altered)")
                checked += 1
            if len(rows) < batch:
                return VerifyReport(checked, await _unsealed(conn))


async def _unsealed(conn: AsyncConnection) -> int:
    return (await conn.execute(text(
        "SELECT count(*) FROM audit_entries e WHERE NOT EXISTS "
        "(SELECT 1 FROM audit_seals s WHERE s.entry_id = e.id)"))).scalar_one()


async def run_sealer(engine: AsyncEngine, interval: float) -> None:
    """Background task of each API process: seal every ``interval`` seconds until cancelled."""
    while True:
        try:
            await seal(engine)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep sealing after a transient database error
            log.exception("audit sealer failed")
        await asyncio.sleep(interval)


