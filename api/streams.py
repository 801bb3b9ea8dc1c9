"""Live updates (api-surface §14): ``GET …/stream`` as Server-Sent Events (docs/streams.md).

Each route checks the resource's read permission and that the entity exists *before* the stream
opens (403/404 problem+json, no SSE byte), then subscribes to the process's ``StreamHub``
(``api/stream_hub.py``). Every SSE event is one stored event: ``id`` = the event's global id
(``events.id``), ``event`` = its type, ``data`` = ``{event_id, entity_type, entity_id, sequence,
event_type, recorded_at, payload}`` with the payload stripped of ids as on the timelines
(``api/timelines.py``). A client re-reads the resource it cares about.

``Last-Event-ID`` resumes: the route subscribes first, then replays the topic's events with a
greater id from the table (keyset pages), then goes live, skipping what the replay already sent,
so there is neither a gap nor a duplicate. A heartbeat comment (``: ping``) is sent every
``LANA_STREAM_HEARTBEAT_S``. A disconnect cancels the generator, which unsubscribes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from sqlalchemy import text
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.authz import Principal, require
from api.deps import autocommit_engine
from api.stream_hub import COLUMNS, FACILITY, Dropped, StreamEvent, StreamHub, Topic
from domain.credit.disbursal import Disbursal
from domain.deposits.model import Withdrawal
from domain.errors import NotFound, ValidationFailed
from domain.reports.run import ReportRun

router = APIRouter(tags=["live updates"])

REPLAY_PAGE = 500
PRICE_TOPIC: Topic = ("btc_price", "BTCUSD")

# A facility's replay: its own events and those of its disbursals, accrual cycles and obligations
# (the same relation as the listener's FACILITY_OF).
_FACILITY_REPLAY = text(f"""
    SELECT {COLUMNS} FROM events e
    WHERE e.id > :after AND (
        (e.entity_type = 'credit_facility' AND e.entity_id = :id)
        OR (e.entity_type = 'credit_disbursal'
            AND e.entity_id IN (SELECT id::text FROM credit_disbursals WHERE facility_id = CAST(:id AS uuid)))
        OR (e.entity_type = 'credit_accrual_cycle'
            AND e.entity_id IN (SELECT id::text FROM credit_accrual_cycles WHERE facility_id = CAST(:id AS uuid)))
        OR (e.entity_type = 'credit_obligation'
            AND e.entity_id IN (SELECT id::text FROM credit_obligations WHERE facility_id = CAST(:id AS uuid))))
    ORDER BY e.id LIMIT :n""")
_ENTITY_REPLAY = text(f"""
    SELECT {COLUMNS} FROM events e
    WHERE e.entity_type = :t AND e.entity_id = :id AND e.id > :after ORDER BY e.id LIMIT :n""")
_EXISTS = text("SELECT EXISTS (SELECT 1 FROM events WHERE entity_type = :t AND entity_id = :id)")

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A stream of Server-Sent Events: `id` = event id (send it back as `Last-Event-ID` "
                         "to resume), `event` = event type, `data` = the event as JSON; a `: ping` comment "
                         "every heartbeat interval",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    403: {"description": "No read permission (`auth.forbidden`), before the stream opens"},
    422: {"description": "`Last-Event-ID` is not an event id (`common.validation_failed`)"},
}
ENTITY_RESPONSES = {**SSE_RESPONSES, 404: {"description": "No such entity (`common.not_found`)"}}

LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", description="Resume after this event id")]


def hub_of(request: Request) -> StreamHub:
    return request.app.state.streams


def parse_last_event_id(last_event_id: str | None) -> int | None:
    if last_event_id is None or last_event_id.strip() == "":
        return None
    try:
        after = int(last_event_id.strip())
    except ValueError:
        after = -1
    if after < 0:
        raise ValidationFailed("Last-Event-ID must be an event id this API sent (a non-negative integer).")
    return after


def _sse(event: StreamEvent, sse_id: int) -> ServerSentEvent:
    return ServerSentEvent(data=event.data, id=str(sse_id), event=event.event_type)


async def _replay(request: Request, topic: Topic, after: int) -> AsyncIterator[StreamEvent]:
    """The topic's stored events after ``after``, oldest first, one pooled connection per page."""
    entity_type, entity_id = topic
    while True:
        async with autocommit_engine(request).connect() as conn:
            if entity_type == FACILITY:
                rows = (await conn.execute(_FACILITY_REPLAY, {"id": entity_id, "after": after,
                                                              "n": REPLAY_PAGE})).mappings().all()
            else:
                rows = (await conn.execute(_ENTITY_REPLAY, {"t": entity_type, "id": entity_id, "after": after,
                                                            "n": REPLAY_PAGE})).mappings().all()
        for row in rows:
            yield StreamEvent.of(row)
        if len(rows) < REPLAY_PAGE:
            return
        after = rows[-1]["id"]


async def _stream(request: Request, topic: Topic, after: int | None) -> AsyncIterator[ServerSentEvent]:
    hub = hub_of(request)
    sub = await hub.subscribe(topic)  # before the replay: nothing committed from now on is missed
    try:
        sent: set[int] = set()
        high = after or 0  # the SSE id: the highest event id sent, so it never goes backwards
        if after is not None:
            async for event in _replay(request, topic, after):
                sent.add(event.id)
                high = max(high, event.id)
                yield _sse(event, high)
        newest_replayed = max(sent, default=0)
        while True:
            try:
                event = await sub.next()
            except Dropped:
                return  # the client reconnects with Last-Event-ID
            if event.id <= newest_replayed and event.id in sent:
                continue  # committed while the replay ran: already sent
            high = max(high, event.id)
            yield _sse(event, high)
    finally:
        hub.unsubscribe(sub)


def _response(request: Request, topic: Topic, after: int | None) -> EventSourceResponse:
    settings = request.app.state.settings
    return EventSourceResponse(_stream(request, topic, after), ping=settings.stream_heartbeat_s,
                               send_timeout=settings.stream_send_timeout_s,
                               headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def facility_stream_response(request: Request, facility_id: str, after: int | None) -> EventSourceResponse:
    """The facility stream (also the portal's, after its ownership check)."""
    return _response(request, (FACILITY, facility_id), after)


async def _existing(request: Request, entity_type: str, entity_id: uuid.UUID) -> None:
    async with autocommit_engine(request).connect() as conn:
        found = (await conn.execute(_EXISTS, {"t": entity_type, "id": str(entity_id)})).scalar()
    if not found:
        raise NotFound(f"No {entity_type.replace('_', ' ')} {entity_id}.")


# (path segment, entity type, topic type, read permission, what the stream carries)
ENTITY_STREAMS: list[tuple[str, str, str, str, str]] = [
    ("credit-facilities", FACILITY, FACILITY, "credit:credit-facility:read",
     "the facility's events and those of its disbursals, accrual cycles and obligations (activation, "
     "collateralization, disbursal settled, accrual posted, maturity, completion)"),
    ("credit-facility-proposals", FACILITY, FACILITY, "credit:credit-facility:read",
     "the proposal's events (created, customer decision, concluded) and, once it becomes a facility, the facility's"),
    ("pending-credit-facilities", FACILITY, FACILITY, "credit:credit-facility:read",
     "the pending facility's events (collateralization changed, completed) and then the facility's"),
    ("disbursals", Disbursal.entity_type, Disbursal.entity_type, "credit:disbursal:read",
     "the disbursal's events (approval concluded, settled, failed)"),
    ("withdrawals", Withdrawal.entity_type, Withdrawal.entity_type, "deposit:withdrawal:read",
     "the withdrawal's events (confirmed, approval concluded, cancelled, reverted)"),
    ("report-runs", ReportRun.entity_type, ReportRun.entity_type, "report:report:read",
     "the report run's events (queued, running, succeeded or failed with its error)"),
]


def _entity_route(segment: str, entity_type: str, topic_type: str, permission: str, carries: str) -> None:
    @router.get(f"/{segment}/{{entity_id}}/stream", response_class=EventSourceResponse, responses=ENTITY_RESPONSES,
                summary=f"Live updates of one of /{segment} (SSE)", name=f"{segment}_stream",
                description=f"Server-Sent Events: {carries}. `Last-Event-ID` replays what was missed.")
    async def stream(entity_id: uuid.UUID, request: Request, last_event_id: LastEventId = None,
                     principal: Principal = require(permission, id_param="entity_id")) -> EventSourceResponse:
        after = parse_last_event_id(last_event_id)
        await _existing(request, entity_type, entity_id)
        return _response(request, (topic_type, str(entity_id)), after)


for _spec in ENTITY_STREAMS:
    _entity_route(*_spec)


@router.get("/price/stream", response_class=EventSourceResponse, responses=SSE_RESPONSES,
            summary="Live BTC price (SSE)", name="price_stream",
            description="Server-Sent Events: one `price_updated` event per change of the price in force "
                        "(`payload.usd_cents_per_btc`). Same permission as `GET /price`.")
async def price_stream(request: Request, last_event_id: LastEventId = None,
                       principal: Principal = require("price:provider:list")) -> EventSourceResponse:
    return _response(request, PRICE_TOPIC, parse_last_event_id(last_event_id))
