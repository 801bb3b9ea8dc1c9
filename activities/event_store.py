"""Append-only event store with optimistic concurrency.

Rows are never updated or deleted. ``(entity_type, entity_id, sequence)`` is unique, so two writers
that both loaded version N cannot both append N+1: the second gets ``ConcurrencyConflict`` and must
reload. Callers pass the connection of their own transaction so read models are updated atomically
with the events.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.errors import ConcurrencyConflict
from domain.events import Event, EventSourced

T = TypeVar("T", bound=EventSourced)

metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("entity_type", "entity_id", "sequence", name="uq_events_entity_sequence"),
    Index("ix_events_type_recorded", "entity_type", "recorded_at"),
)


async def append(
    conn: AsyncConnection,
    entity_type: str,
    entity_id: str,
    expected_sequence: int,
    new_events: list[tuple[str, dict[str, Any]]],
) -> int:
    """Append events after ``expected_sequence``; return the entity's new sequence.

    Raises ``ConcurrencyConflict`` when another writer already appended past ``expected_sequence``;
    the unique violation has then failed the caller's transaction, which is rolled back and retried
    as a whole (the conflict is transient). One statement, no savepoint: a caller that must go on
    after a conflict opens its own (``conn.begin_nested()``).
    """
    if not new_events:
        return expected_sequence
    rows = [
        {
            "entity_type": entity_type,
            "entity_id": entity_id,
            "sequence": expected_sequence + i,
            "event_type": event_type,
            "payload": payload,
        }
        for i, (event_type, payload) in enumerate(new_events, start=1)
    ]
    try:
        await insert_rows(conn, rows)
    except IntegrityError as exc:
        raise ConcurrencyConflict(
            f"{entity_type} {entity_id} changed concurrently (expected version {expected_sequence})"
        ) from exc
    return expected_sequence + len(new_events)


# One statement for any number of events (arrays, so one prepared statement whatever the count):
# a list of rows given to ``execute`` would be the driver's executemany, one execution per row,
# each firing the NOTIFY trigger (migration 0120) on its own.
_INSERT_ROWS = text(
    "INSERT INTO events (entity_type, entity_id, sequence, event_type, payload)"
    " SELECT t, i, q, e, p FROM unnest(CAST(:types AS text[]), CAST(:ids AS text[]), CAST(:seqs AS bigint[]),"
    " CAST(:events AS text[]), CAST(CAST(:payloads AS text[]) AS jsonb[])) WITH ORDINALITY AS r(t, i, q, e, p, n)"
    " ORDER BY n")


async def insert_rows(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Insert event rows (``entity_type``, ``entity_id``, ``sequence``, ``event_type``, ``payload``)
    in one statement, in their order (ids ascending); one row goes through the prebuilt insert."""
    if len(rows) == 1:
        await conn.execute(_INSERT, rows[0])
        return
    await conn.execute(_INSERT_ROWS, {
        "types": [r["entity_type"] for r in rows], "ids": [r["entity_id"] for r in rows],
        "seqs": [r["sequence"] for r in rows], "events": [r["event_type"] for r in rows],
        "payloads": [json.dumps(r["payload"]) for r in rows]})


async def save_entities(conn: AsyncConnection, entities: list[EventSourced]) -> None:
    """Persist the pending events of many entities in one INSERT (a batch step's page). Any
    entity changed since it was loaded fails the whole statement with ``ConcurrencyConflict``
    (transient: the caller's transaction is lost and the page is run again)."""
    rows = [{"entity_type": e.entity_type, "entity_id": e.id, "sequence": e.version + i, "event_type": t,
             "payload": payload}
            for e in entities for i, (t, payload) in enumerate(e.pending, start=1)]
    if rows:
        try:
            await insert_rows(conn, rows)
        except IntegrityError as exc:
            raise ConcurrencyConflict("An entity of the batch changed concurrently.") from exc
    for e in entities:
        e.version += len(e.pending)
        e.pending = []


# Built once: a statement built per call costs SQLAlchemy ~0.3 ms more to construct and key than a
# prebuilt one (docs/performance.md, 2026-12-02), and this one runs on every aggregate load.
_LOAD = (select(events.c.sequence, events.c.event_type, events.c.payload, events.c.recorded_at)
         .where(events.c.entity_type == bindparam("entity_type"), events.c.entity_id == bindparam("entity_id"))
         .order_by(events.c.sequence))


_INSERT = insert(events)


async def load(conn: AsyncConnection, entity_type: str, entity_id: str) -> list[Event]:
    result = await conn.execute(_LOAD, {"entity_type": entity_type, "entity_id": entity_id})
    return [
        Event(entity_type, entity_id, r.sequence, r.event_type, r.payload, r.recorded_at)
        for r in result
    ]


async def load_entity(conn: AsyncConnection, cls: type[T], entity_id: str) -> T | None:
    stored = await load(conn, cls.entity_type, entity_id)
    if not stored:
        return None
    return cls.rebuild(entity_id, stored)


async def save_entity(conn: AsyncConnection, entity: EventSourced) -> int:
    """Persist an entity's pending events, checking it was not changed since it was loaded."""
    new_version = await append(conn, entity.entity_type, entity.id, entity.version, entity.pending)
    entity.version = new_version
    entity.pending = []
    return new_version
