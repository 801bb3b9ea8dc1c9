"""One LISTEN connection per API process, fanned out in memory to the SSE clients (docs/streams.md).

Every statement that appends events sends ``NOTIFY lana_events '{"tx", "min", "max", "topics"}'``
in its own transaction (migrations 0120, 0130: ``topics`` names each event's entity and, for a
facility's disbursals, accrual cycles and obligations, the facility; null for a statement of more
than 16 events). The hub holds one dedicated asyncpg connection (not from the pool) with a listener
on that channel; one task reads each notified range once (``id BETWEEN min AND max AND tx_id =
tx``), resolves the facility an event belongs to (a disbursal's, an accrual cycle's, an
obligation's) and offers it to the subscribers of its topics. A range none of whose topics has a
subscriber is not even read: an idle process, a client that went away, or events of facilities
nobody watches cost nothing.

A subscriber has a bounded queue. A client that falls ``stream_queue_size`` events behind is
dropped (its stream ends; it reconnects with ``Last-Event-ID`` and replays from the table), so a
slow client never blocks the others or the listener. A lost LISTEN connection drops every
subscriber the same way (notifications sent while it was down are not redelivered, the table is);
the next subscription reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from api.timelines import strip_ids

CHANNEL = "lana_events"
FACILITY = "credit_facility"
log = structlog.get_logger("lana.streams")

Topic = tuple[str, str]  # (entity type, entity id)

# The facility an event belongs to, for the facility stream: its own events and those of its
# disbursals, accrual cycles and obligations (their read models name the facility).
FACILITY_OF = """
    CASE e.entity_type
        WHEN 'credit_facility' THEN e.entity_id
        WHEN 'credit_disbursal' THEN (SELECT d.facility_id::text FROM credit_disbursals d
                                      WHERE d.id = e.entity_id::uuid)
        WHEN 'credit_accrual_cycle' THEN (SELECT c.facility_id::text FROM credit_accrual_cycles c
                                          WHERE c.id = e.entity_id::uuid)
        WHEN 'credit_obligation' THEN (SELECT o.facility_id::text FROM credit_obligations o
                                       WHERE o.id = e.entity_id::uuid)
    END"""
COLUMNS = f"e.id, e.entity_type, e.entity_id, e.sequence, e.event_type, e.recorded_at, e.payload, {FACILITY_OF} AS facility_id"
_FETCH = f"SELECT {COLUMNS} FROM events e WHERE e.id BETWEEN $1 AND $2 AND e.tx_id = $3::xid8 ORDER BY e.id"


@dataclass(frozen=True, slots=True)
class StreamEvent:
    id: int
    entity_type: str
    entity_id: str
    sequence: int
    event_type: str
    recorded_at: datetime
    payload: dict[str, Any]
    facility_id: str | None
    data: str = ""  # the SSE data line, rendered once per process (not once per client)

    @classmethod
    def of(cls, row: Any) -> StreamEvent:
        payload = row["payload"]
        payload = json.loads(payload) if isinstance(payload, str) else payload
        data = json.dumps({"event_id": row["id"], "entity_type": row["entity_type"], "entity_id": row["entity_id"],
                           "sequence": row["sequence"], "event_type": row["event_type"],
                           "recorded_at": row["recorded_at"].isoformat(), "payload": strip_ids(payload)},
                          separators=(",", ":"))
        return cls(row["id"], row["entity_type"], row["entity_id"], row["sequence"], row["event_type"],
                   row["recorded_at"], payload, row["facility_id"], data)

    def topics(self) -> Iterator[Topic]:
        yield (self.entity_type, self.entity_id)
        if self.facility_id and self.entity_type != FACILITY:
            yield (FACILITY, self.facility_id)


class Dropped(Exception):
    """The subscriber fell behind (or the listener was lost): end the stream, the client resumes."""


_DROP = object()


class Subscriber:
    def __init__(self, topic: Topic, size: int) -> None:
        self.topic = topic
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=size)
        self.dropped = False

    def offer(self, event: StreamEvent) -> None:
        if self.dropped:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.drop()

    def drop(self) -> None:
        if not self.dropped:
            self.dropped = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(_DROP)

    async def next(self) -> StreamEvent:
        item = await self._queue.get()
        if item is _DROP:
            raise Dropped
        return item


class StreamHub:
    def __init__(self, dsn: str, queue_size: int) -> None:
        self._dsn, self._queue_size = dsn, queue_size
        self._subs: dict[Topic, set[Subscriber]] = {}
        self._conn: asyncpg.Connection | None = None
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self.notifications = 0  # received (for tests and the bench)
        self.reads = 0  # ranges read (only while someone listens to one of their topics)
        self.skipped = 0  # ranges not read: nobody listens to any of their topics

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def subscribe(self, topic: Topic) -> Subscriber:
        """Listening before the caller replays from the table: whatever commits from now on is
        offered, so replay + live has no gap (the route removes the overlap)."""
        await self._ensure_listening()
        sub = Subscriber(topic, self._queue_size)
        self._subs.setdefault(topic, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._subs.get(sub.topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.topic]

    async def _ensure_listening(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            return
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return
            conn = await asyncpg.connect(self._dsn, timeout=10,
                                         server_settings={"application_name": "lana-streams", "timezone": "UTC"})
            conn.add_termination_listener(self._on_lost)
            await conn.add_listener(CHANNEL, self._on_notify)
            self._conn = conn
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._consume(), name="lana-streams")

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.notifications += 1
        if self._subs:
            self._inbox.put_nowait(payload)

    def _on_lost(self, _conn: Any) -> None:
        log.warning("stream listener connection lost; dropping subscribers")
        self._conn = None
        self._drop_all()

    def _drop_all(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.drop()

    def _wanted(self, topics: list[str] | None) -> bool:
        """Whether a notified range may hold an event someone listens to: its topics (migration
        0130; none for a statement of more than 16 events: read it) against the subscribed ones;
        ``credit_facility:?`` (a child event whose facility was not found) against any facility's."""
        if topics is None:
            return True
        for topic in topics:
            entity_type, _, entity_id = topic.partition(":")
            if (entity_type, entity_id) in self._subs:
                return True
            if entity_id == "?" and entity_type == FACILITY and any(t == FACILITY for t, _ in self._subs):
                return True
        return False

    async def _consume(self) -> None:
        while True:
            payload = await self._inbox.get()
            conn = self._conn
            if conn is None or not self._subs:
                continue
            try:
                note = json.loads(payload)
                if not self._wanted(note.get("topics")):
                    self.skipped += 1
                    continue
                rows = await conn.fetch(_FETCH, note["min"], note["max"], int(note["tx"]))
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
                log.warning("stream listener read failed; dropping subscribers", error=str(exc))
                self._drop_all()
                continue
            self.reads += 1
            for row in rows:
                self.dispatch(StreamEvent.of(row))

    def dispatch(self, event: StreamEvent) -> None:
        for topic in event.topics():
            for sub in list(self._subs.get(topic, ())):
                sub.offer(event)

    async def close(self) -> None:
        self._drop_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.remove_termination_listener(self._on_lost)
            await conn.close()
