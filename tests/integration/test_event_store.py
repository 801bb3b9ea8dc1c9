import asyncio

import pytest

from activities import event_store
from domain.errors import ConcurrencyConflict
from domain.events import EventSourced


class Counter(EventSourced):
    entity_type = "counter"
    total: int = 0

    def apply(self, event_type, payload):
        if event_type == "Added":
            self.total += payload["n"]


async def test_append_and_rebuild(engine):
    async with engine.begin() as conn:
        c = Counter(id="c1")
        c.record("Added", {"n": 2})
        c.record("Added", {"n": 3})
        assert await event_store.save_entity(conn, c) == 2
    async with engine.connect() as conn:
        again = await event_store.load_entity(conn, Counter, "c1")
    assert again is not None and again.total == 5 and again.version == 2


async def test_stale_append_is_rejected_not_overwritten(engine):
    async with engine.begin() as conn:
        await event_store.append(conn, "counter", "c2", 0, [("Added", {"n": 1})])
    # Two writers both loaded version 1 and both try to append version 2.
    async with engine.connect() as a, engine.connect() as b:
        await a.begin()
        await b.begin()
        await event_store.append(a, "counter", "c2", 1, [("Added", {"n": 10})])
        second = asyncio.create_task(event_store.append(b, "counter", "c2", 1, [("Added", {"n": 100})]))
        await asyncio.sleep(0.05)
        await a.commit()
        with pytest.raises(ConcurrencyConflict):
            await second
        await b.rollback()
    async with engine.connect() as conn:
        rebuilt = await event_store.load_entity(conn, Counter, "c2")
    assert rebuilt.total == 11 and rebuilt.version == 2


async def test_events_are_append_only(engine):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    async with engine.begin() as conn:
        await event_store.append(conn, "counter", "c3", 0, [("Added", {"n": 1})])
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE events SET payload = '{}' WHERE entity_id = 'c3'"))
