"""The NOTIFY behind live updates (migration 0120, docs/streams.md), on the real database: one
notification per event-appending statement (a batch of 1,000 events is one), none for a rolled-back
transaction, and the hub delivers two transactions' events in commit order even when their ids
are the other way round."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import asyncpg
from sqlalchemy import text

from api.stream_hub import CHANNEL, StreamHub
from ground.db import asyncpg_dsn

_BATCH = text("""INSERT INTO events (entity_type, entity_id, sequence, event_type, payload)
                 SELECT 'withdrawal', :id, g, 'noted', '{}'::jsonb FROM generate_series(1, :n) g""")


@contextlib.asynccontextmanager
async def _listening(db_url: str):
    """The payloads of ``lana_events`` notifications, as they arrive."""
    got: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(db_url))
    await listener.add_listener(CHANNEL, lambda *args: got.append(args[-1]))
    try:
        yield got
    finally:
        await listener.close()


async def _until(predicate, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_one_notification_per_statement_and_none_for_a_rollback(db_url, engine):
    async with _listening(db_url) as got:
        entity = str(uuid.uuid4())
        async with engine.begin() as conn:
            await conn.execute(_BATCH, {"id": entity, "n": 1000})
        rolled_back = str(uuid.uuid4())
        async with engine.connect() as conn:
            await conn.execute(_BATCH, {"id": rolled_back, "n": 5})
            await conn.rollback()
        async with engine.begin() as conn:  # a marker: once it arrives, anything before it has too
            await conn.execute(_BATCH, {"id": str(uuid.uuid4()), "n": 1})
        await _until(lambda: len(got) >= 2)
        await asyncio.sleep(0.1)
        assert len(got) == 2
        note = json.loads(got[0])
        async with engine.connect() as conn:
            ids = (await conn.execute(text(
                "SELECT min(id), max(id), count(*) FROM events WHERE entity_id = :id AND tx_id = CAST(:tx AS xid8)"),
                {"id": entity, "tx": int(note["tx"])})).one()
        assert (note["min"], note["max"], ids[2]) == (ids[0], ids[1], 1000)
        assert len(got[0]) < 100  # small whatever the batch


async def test_the_hub_delivers_in_commit_order_when_ids_are_reversed(db_url, engine):
    hub = StreamHub(asyncpg_dsn(db_url), queue_size=16)
    entity = str(uuid.uuid4())
    sub = await hub.subscribe(("withdrawal", entity))
    try:
        early = await engine.connect()  # takes the lower id, commits last
        await early.execute(_BATCH, {"id": entity, "n": 1})
        async with engine.begin() as late:
            await late.execute(text("""INSERT INTO events (entity_type, entity_id, sequence, event_type, payload)
                                       VALUES ('withdrawal', :id, 2, 'noted', '{}'::jsonb)"""), {"id": entity})
        first = await asyncio.wait_for(sub.next(), 10)
        await early.commit()
        await early.close()
        second = await asyncio.wait_for(sub.next(), 10)
        assert (first.sequence, second.sequence) == (2, 1)  # commit order
        assert first.id > second.id  # the ids the other way round: the route's SSE id keeps the higher
    finally:
        hub.unsubscribe(sub)
        await hub.close()
    assert hub.subscriber_count == 0


async def test_the_hub_reads_only_ranges_whose_topics_someone_watches(db_url, engine):
    """Migration 0130: a statement of up to 16 events names its topics, so a range nobody watches is
    not read; a bigger one names none and is read while anyone listens; a facility child event
    whose facility is not found names ``credit_facility:?``, read for any facility subscriber."""
    hub = StreamHub(asyncpg_dsn(db_url), queue_size=64)
    watched, other = str(uuid.uuid4()), str(uuid.uuid4())
    sub = await hub.subscribe(("withdrawal", watched))
    try:
        async with engine.begin() as conn:
            await conn.execute(_BATCH, {"id": other, "n": 3})  # nobody watches it
        async with engine.begin() as conn:
            await conn.execute(_BATCH, {"id": watched, "n": 2})
        first = await asyncio.wait_for(sub.next(), 10)
        assert (first.entity_id, first.sequence) == (watched, 1)
        assert (hub.reads, hub.skipped) == (1, 1)  # one task, in order: the first was skipped before
        async with engine.begin() as conn:
            await conn.execute(_BATCH, {"id": str(uuid.uuid4()), "n": 17})  # over 16: no topics, read
        await _until(lambda: hub.reads == 2)
        assert hub.skipped == 1
        facility = await hub.subscribe(("credit_facility", str(uuid.uuid4())))
        try:
            async with engine.begin() as conn:  # a disbursal with no row: its facility unknown
                await conn.execute(text("""INSERT INTO events (entity_type, entity_id, sequence, event_type, payload)
                                           VALUES ('credit_disbursal', :id, 1, 'noted', '{}'::jsonb)"""),
                                   {"id": str(uuid.uuid4())})
            await _until(lambda: hub.reads == 3)
            assert hub.skipped == 1
        finally:
            hub.unsubscribe(facility)
    finally:
        hub.unsubscribe(sub)
        await hub.close()


async def test_a_small_statement_names_its_topics_with_the_facility_of_a_child(db_url, engine):
    async with _listening(db_url) as got:
        entity, child = str(uuid.uuid4()), str(uuid.uuid4())
        async with engine.begin() as conn:
            await conn.execute(text("""INSERT INTO events (entity_type, entity_id, sequence, event_type, payload)
                                       VALUES ('withdrawal', :e, 1, 'noted', '{}'), ('withdrawal', :e, 2, 'noted', '{}'),
                                              ('credit_obligation', :c, 1, 'noted', '{}'),
                                              ('credit_disbursal', 'not-a-uuid', 1, 'noted', '{}')"""),
                               {"e": entity, "c": child})
        await _until(lambda: len(got) >= 1)
        assert sorted(json.loads(got[0])["topics"]) == sorted([
            f"withdrawal:{entity}", f"credit_obligation:{child}", "credit_disbursal:not-a-uuid", "credit_facility:?"])


async def test_an_append_of_several_events_is_one_statement_in_order(db_url, engine):
    """``event_store.append`` writes its events in one statement (not the driver's executemany, one
    execution and one notification per row), ids ascending with the sequence."""
    from activities import event_store

    async with _listening(db_url) as got:
        entity = str(uuid.uuid4())
        async with engine.begin() as conn:
            await event_store.append(conn, "withdrawal", entity, 0,
                                     [("a", {}), ("b", {"n": 1}), ("c", {"nested": {"x": [1, 2]}})])
        async with engine.begin() as conn:  # a marker: once it arrives, anything before it has too
            await conn.execute(_BATCH, {"id": str(uuid.uuid4()), "n": 1})
        await _until(lambda: len(got) >= 2)
        await asyncio.sleep(0.1)
        assert len(got) == 2
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, sequence, event_type, payload FROM events"
                                            " WHERE entity_id = :id ORDER BY id"), {"id": entity})).all()
        assert [(r.sequence, r.event_type, r.payload) for r in rows] == [
            (1, "a", {}), (2, "b", {"n": 1}), (3, "c", {"nested": {"x": [1, 2]}})]
