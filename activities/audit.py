"""The audit log: append entries, seal them into the keyed hash chain, anchor its head, verify.

Writers only INSERT (one row, no lock shared between requests). Sealing is done afterwards by one
sealer at a time (advisory lock), in chain order ``(tx_id, id)`` over entries whose inserting
transaction is older than every transaction still running, so no entry can later appear inside
the sealed prefix. Seals are HMAC-SHA256 under a key from settings (never in the database), and the
sealer appends the signed head to an anchor log outside the database (``AnchorLog``), refusing to
anchor a head that does not extend the last anchor. ``verify`` recomputes the chain, checks it
against the latest anchor and names the first entry (or position) that does not match.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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

from domain.audit.chain import GENESIS, AuditRecord, anchor_signature, anchor_valid, keyed_link, link
from ground.secrets import required_secret
from ground.settings import Settings

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
    Column("key_id", String(64)),
)

SEALER_LOCK = 0x4C414E41_41554454  # "LANA" "AUDT"
ANCHOR_LOCK = 0x4C414E41_414E4352  # "LANA" "ANCR"
DEV_KEY_ID = "dev"


@dataclass(frozen=True)
class AuditKeys:
    """The chain's HMAC keys by id: the current one seals and signs anchors, retired ones verify."""

    current_id: str
    keys: dict[str, bytes]

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditKeys:
        """``ValueError`` in production without ``LANA_AUDIT_HMAC_KEY`` (or with a short one)."""
        secret = required_secret(settings, settings.audit_hmac_key, "LANA_AUDIT_HMAC_KEY", "audit-hmac-key")
        current_id = settings.audit_hmac_key_id if settings.audit_hmac_key else DEV_KEY_ID
        keys = {kid: v.get_secret_value().encode() for kid, v in settings.audit_hmac_retired_keys.items()}
        keys[current_id] = secret.encode()
        return cls(current_id, keys)


class AnchorLog:
    """Signed chain heads, one JSON object a line, appended (O_APPEND + fsync) to a file outside
    the database: put it on storage the database role cannot write (a volume of the API's own, or
    one synchronised to WORM object storage)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, anchor: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(anchor, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # after a torn line: start a new one
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def latest(self, block: int = 64 * 1024) -> dict | None:
        """The last complete line (a torn last line, from a crash mid-write, is skipped); reads the
        file from its end, so the cost does not grow with the log."""
        if not self.path.exists():
            return None
        with self.path.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            start = end
            while start > 0:
                start = max(0, start - block)
                f.seek(start)
                lines = f.read(end - start).splitlines()
                for line in reversed(lines[1:] if start > 0 else lines):  # the first may be partial
                    try:
                        anchor = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(anchor, dict):
                        return anchor
        return None


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


async def record_system_actions(conn: AsyncConnection, actions: list[tuple[str, str, str, str | None]]) -> None:
    """``record_system_action`` for several ``(object, action, subject, workflow_id)`` in one
    statement, in their order (ids ascending), inside the caller's transaction."""
    rows = [{"subject": subject if subject.startswith("system:") else f"system:{subject}", "object": object_,
             "action": action, "authorized": True, "request_id": None, "workflow_id": workflow_id}
            for object_, action, subject, workflow_id in actions]
    if rows:
        await conn.execute(insert(audit_entries).values(rows))


def _record(row) -> AuditRecord:
    return AuditRecord(row.id, row.subject, row.object, row.action, row.authorized, row.recorded_at,
                       row.request_id, row.workflow_id)


_COLS = "e.id, e.subject, e.object, e.action, e.authorized, e.recorded_at, e.request_id, e.workflow_id"


async def seal(engine: AsyncEngine, keys: AuditKeys, batch: int = 5000) -> int:
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
                prev = keyed_link(keys.current, prev, _record(row))
                position += 1
                seals.append({"position": position, "entry_id": row.id, "hash": prev, "key_id": keys.current_id})
            await conn.execute(insert(audit_seals), seals)
            total += len(seals)
        if len(rows) < batch:
            return total


async def anchor(engine: AsyncEngine, keys: AuditKeys, anchors: AnchorLog) -> dict | None:
    """Append the signed chain head to ``anchors`` unless it is already the latest anchor. Refuses (logs
    an error, returns None) when the chain no longer contains the latest anchor's head: a truncated
    or rewritten chain is never anchored over its evidence."""
    async with engine.begin() as conn:  # one anchor writer at a time, across processes
        if not (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ANCHOR_LOCK})).scalar():
            return None
        head = (await conn.execute(text(
            "SELECT position, entry_id, hash FROM audit_seals ORDER BY position DESC LIMIT 1"))).first()
        if head is None:
            return None
        last = anchors.latest()
        if last is not None:
            if last.get("position") == head.position and last.get("hash") == bytes(head.hash).hex():
                return None
            at = (await conn.execute(text("SELECT entry_id, hash FROM audit_seals WHERE position = :p"),
                                     {"p": last.get("position")})).first()
            if at is None or at.entry_id != last.get("entry_id") or bytes(at.hash).hex() != last.get("hash"):
                log.error("audit chain does not extend its last anchor: not anchoring; run `lana audit verify`",
                          anchor_position=last.get("position"), anchors=str(anchors.path))
                return None
        # seals made before the chain was keyed: a prefix, fixed once keyed seals follow it
        legacy_until = last.get("legacy_until", 0) if last is not None else (await conn.execute(text(
            "SELECT coalesce(max(position), 0) FROM audit_seals WHERE key_id IS NULL"))).scalar_one()
        new = {"position": head.position, "entry_id": head.entry_id, "hash": bytes(head.hash).hex(),
               "legacy_until": legacy_until, "anchored_at": datetime.now(UTC).isoformat(),
               "key_id": keys.current_id}
        new["sig"] = anchor_signature(keys.current, new)
        await asyncio.to_thread(anchors.append, new)
        return new


@dataclass
class VerifyReport:
    sealed: int
    unsealed: int
    first_bad_entry: int | None = None
    problem: str | None = None
    first_bad_position: int | None = None
    anchor: dict | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.first_bad_entry is None and self.problem is None


def _anchor_problem(keys: AuditKeys, anchor: dict | None) -> str | None:
    if anchor is None:
        return None
    key = keys.keys.get(anchor.get("key_id"))
    if key is None:
        return f"the latest anchor is signed with unknown key {anchor.get('key_id')!r}"
    if not anchor_valid(key, anchor) or not isinstance(anchor.get("position"), int):
        return "the latest anchor's signature is invalid"
    return None


async def verify(engine: AsyncEngine, keys: AuditKeys, anchors: AnchorLog | None = None,
                 batch: int = 10000) -> VerifyReport:
    """Recompute the chain over every sealed entry, in chain order, and check it reaches and
    matches the latest anchor (when ``anchors`` is given)."""
    latest = anchors.latest() if anchors is not None else None
    prev, checked, position, keyed = GENESIS, 0, 0, False
    async with engine.connect() as conn:

        async def bad(entry_id: int | None, problem: str, at: int) -> VerifyReport:
            return VerifyReport(checked, await _unsealed(conn), entry_id, problem, at, latest)

        if (problem := _anchor_problem(keys, latest)) is not None:
            return await bad(None, problem, None)
        while True:
            rows = (await conn.execute(text(
                f"SELECT s.position, s.entry_id, s.hash, s.key_id, e.id IS NOT NULL AS present, {_COLS} "
                "FROM audit_seals s LEFT JOIN audit_entries e ON e.id = s.entry_id "
                "WHERE s.position > :p ORDER BY s.position LIMIT :n"), {"p": position, "n": batch})).all()
            for row in rows:
                position += 1
                if row.position != position:
                    return await bad(row.entry_id, f"seal {position} is missing", position)
                if not row.present:
                    return await bad(row.entry_id, f"entry {row.entry_id} was deleted", position)
                if row.key_id is None:  # sealed before the chain was keyed: only an anchored prefix
                    if keyed or (latest is not None and position > latest.get("legacy_until", 0)):
                        return await bad(row.entry_id, f"entry {row.entry_id} has an unkeyed seal after the "
                                         "keyed chain began (altered)", position)
                    prev = link(prev, _record(row))
                else:
                    key = keys.keys.get(row.key_id)
                    if key is None:
                        return await bad(row.entry_id, f"entry {row.entry_id} is sealed with unknown key "
                                         f"{row.key_id!r}", position)
                    keyed = True
                    prev = keyed_link(key, prev, _record(row))
                if prev != bytes(row.hash):
                    return await bad(row.entry_id, f"entry {row.entry_id} does not match its seal (altered)",
                                     position)
                if latest is not None and position == latest["position"] and (
                        row.entry_id != latest.get("entry_id") or prev.hex() != latest.get("hash")):
                    return await bad(row.entry_id, f"entry {row.entry_id} (position {position}) does not "
                                     "match the latest anchor (the chain was rewritten)", position)
                checked += 1
            if len(rows) < batch:
                break
        if latest is not None and position < latest["position"]:
            return await bad(None, f"the chain ends at position {position} but the latest anchor "
                             f"({latest.get('anchored_at')}) has position {latest['position']} (entry "
                             f"{latest.get('entry_id')}): the entries sealed after position {position} "
                             "were deleted with their seals", position + 1)
        return VerifyReport(checked, await _unsealed(conn), anchor=latest)


async def _unsealed(conn: AsyncConnection) -> int:
    return (await conn.execute(text(
        "SELECT count(*) FROM audit_entries e WHERE NOT EXISTS "
        "(SELECT 1 FROM audit_seals s WHERE s.entry_id = e.id)"))).scalar_one()


async def run_sealer(engine: AsyncEngine, keys: AuditKeys, interval: float, anchors: AnchorLog | None = None,
                     anchor_interval: float = 10.0) -> None:
    """Background task of each API process: seal every ``interval`` seconds, and anchor the head
    at most every ``anchor_interval`` seconds, until cancelled."""
    anchored_at = -float("inf")
    while True:
        try:
            await seal(engine, keys)
            if anchors is not None and time.monotonic() - anchored_at >= anchor_interval:
                anchored_at = time.monotonic()
                await anchor(engine, keys, anchors)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep sealing after a transient database error
            log.exception("audit sealer failed")
        await asyncio.sleep(interval)
