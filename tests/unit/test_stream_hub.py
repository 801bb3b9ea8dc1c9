"""The stream hub's fan-out without a database (docs/streams.md): topics, the bounded queue that
drops a slow subscriber without touching the others, unsubscribe."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from api.stream_hub import Dropped, StreamEvent, StreamHub, Subscriber

FID, DID = "f" * 8, "d" * 8


def _event(n: int, entity_type: str = "credit_disbursal", entity_id: str = DID, facility: str | None = FID):
    return StreamEvent(n, entity_type, entity_id, n, "settled", datetime(2025, 1, 1, tzinfo=UTC), {}, facility)


def _hub_with(*subs: Subscriber) -> StreamHub:
    hub = StreamHub("postgresql://unused", queue_size=2)
    for sub in subs:
        hub._subs.setdefault(sub.topic, set()).add(sub)
    return hub


def test_an_event_reaches_its_entity_and_its_facility():
    facility, disbursal, other = (Subscriber(("credit_facility", FID), 4), Subscriber(("credit_disbursal", DID), 4),
                                  Subscriber(("credit_facility", "other"), 4))
    hub = _hub_with(facility, disbursal, other)
    hub.dispatch(_event(1))
    hub.dispatch(_event(2, "credit_facility", FID, FID))  # its own event: once, not twice
    assert [e.id for e in facility._queue._queue] == [1, 2]
    assert [e.id for e in disbursal._queue._queue] == [1]
    assert other._queue.empty()


async def test_a_slow_subscriber_is_dropped_and_the_others_keep_receiving():
    slow, fast = Subscriber(("credit_facility", FID), 2), Subscriber(("credit_facility", FID), 10)
    hub = _hub_with(slow, fast)
    for n in range(1, 6):
        hub.dispatch(_event(n))
    assert slow.dropped and not fast.dropped
    with pytest.raises(Dropped):
        await asyncio.wait_for(slow.next(), 1)
    assert [(await fast.next()).id for _ in range(5)] == [1, 2, 3, 4, 5]
    hub.unsubscribe(slow)
    hub.unsubscribe(fast)
    assert hub.subscriber_count == 0 and hub._subs == {}
