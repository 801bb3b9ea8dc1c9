"""``Idempotency-Key`` on creating POSTs (api-surface §0, endpoints marked [IK]).

One line in a router, as a parameter *after* the endpoint's ``require(...)`` (the key is scoped to
the principal that ``require`` resolves)::

    @router.post("/users", status_code=201)
    async def create_user(body: NewUser, principal: Principal = require("access:user:create"),
                          _idem: str | None = idempotent()):
        ...

Semantics, per (principal, key):

- first request: the key is *reserved* (``INSERT … ON CONFLICT DO NOTHING``, committed) before the
  handler runs; the response (status, headers such as ``Location``, body bytes) is stored before it
  is sent, so a client that saw a response can always get it again;
- same key + same request (method, path, query, canonical JSON body): the stored response is
  replayed byte for byte, with ``Idempotent-Replayed: true``;
- same key + a different request: 422 ``common.idempotency_key_reused``;
- same key while the first is still running: wait up to ``wait`` seconds for it and replay, else
  409 ``common.idempotency_request_in_progress``; the two never both execute;
- a 5xx, 409 or 429 outcome (transient) releases the key so the client can retry with it; a
  reservation left by a crashed process is taken over after ``lease`` seconds.

The response is stored in its own transaction right after the handler's (which usually runs in a
Temporal activity anyway); a crash between the two leaves a reservation that expires after the lease.
Because a released or expired key lets the handler run again, handlers should name what they create
with ``new_entity_id(request)``: derived from (principal, key, path) when a key is given, so a second
run reaches the same workflow id / row instead of creating a duplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import Conflict, IdempotencyKeyReused, register

log = structlog.get_logger(__name__)

SCOPE_KEY = "lana.idempotency"
HEADER = "Idempotency-Key"
RELEASE_STATUSES = frozenset({409, 429})
_SKIP_HEADERS = frozenset({b"content-length", b"date", b"server", b"x-request-id"})


@register
class IdempotencyRequestInProgress(Conflict):
    code = "common.idempotency_request_in_progress"
    title = "A request with this idempotency key is still in progress"


class _Replay(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, status: int, headers: list[list[str]], body: bytes | None) -> None:
        super().__init__(status)
        self.status, self.headers, self.body = status, headers, body


@dataclass
class Reservation:
    autocommit: AsyncEngine  # the app's engine in autocommit: each statement here stands alone
    principal: str
    key: str

    async def complete(self, status: int, headers: list[list[str]], body: bytes) -> None:
        async with self.autocommit.connect() as conn:  # one statement: one round trip, no BEGIN/COMMIT
            await conn.execute(_COMPLETE, {"s": status, "h": json.dumps(headers), "b": body, "p": self.principal,
                                           "k": self.key})

    async def release(self) -> None:
        async with self.autocommit.connect() as conn:
            await conn.execute(_RELEASE, {"p": self.principal, "k": self.key})


_COMPLETE = text("UPDATE api_idempotency SET status_code = :s, headers = CAST(:h AS jsonb), "
                 "response_body = :b, completed_at = now() "
                 "WHERE principal = :p AND key = :k AND status_code IS NULL")
_RELEASE = text("DELETE FROM api_idempotency WHERE principal = :p AND key = :k AND status_code IS NULL")
_RESERVE = text("INSERT INTO api_idempotency (principal, key, method, path, request_hash) "
                "VALUES (:p, :k, :m, :path, :h) ON CONFLICT DO NOTHING RETURNING key")
_EXISTING = text("SELECT request_hash, status_code, headers, response_body, "
                 "reserved_at < now() - make_interval(secs => :lease) AS stale "
                 "FROM api_idempotency WHERE principal = :p AND key = :k FOR UPDATE")
class _Slot:
    reservation: Reservation | None = None


async def request_body(request: Request) -> bytes:
    """The raw body; for a form FastAPI already parsed (the stream is consumed), a canonical
    encoding of its fields and file digests, which also ignores the random multipart boundary."""
    try:
        return await request.body()
    except RuntimeError:
        form = await request.form()
        parts: list[list[str | None]] = []
        for name, value in form.multi_items():
            if isinstance(value, str):
                parts.append([name, value])
            else:
                await value.seek(0)
                parts.append([name, value.filename, hashlib.sha256(await value.read()).hexdigest()])
                await value.seek(0)
        return json.dumps(parts).encode()


def fingerprint(method: str, path: str, query: list[tuple[str, str]], body: bytes) -> str:
    """SHA-256 of the request; JSON bodies are canonicalised (key order, whitespace)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except (ValueError, UnicodeDecodeError):
        canonical = body
    h = hashlib.sha256()
    for part in (method.upper(), path, json.dumps(sorted(query))):
        h.update(part.encode() + b"\0")
    h.update(canonical)
    return h.hexdigest()


async def _claim(engine: AsyncEngine, autocommit: AsyncEngine, principal: str, key: str, method: str, path: str, digest: str,
                 lease: float) -> tuple[str, Any]:
    """One attempt: ('reserved', None) | ('replay', row) | ('busy', None); raises on reuse."""
    params = {"p": principal, "k": key, "m": method, "path": path, "h": digest, "lease": lease}
    async with autocommit.connect() as conn:  # the usual case, a new key: one statement, its own commit
        if (await conn.execute(_RESERVE, params)).first() is not None:
            return "reserved", None
    async with engine.begin() as conn:
        row = (await conn.execute(_EXISTING, params)).first()
        if row is None:  # released between our INSERT and SELECT: try again
            return "busy", None
        if row.request_hash != digest:
            raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was used for a different request.")
        if row.status_code is not None:
            return "replay", row
        if row.stale:
            await conn.execute(text("UPDATE api_idempotency SET reserved_at = now() "
                                    "WHERE principal = :p AND key = :k"), params)
            log.warning("idempotency reservation taken over after lease", key=key, principal=principal)
            return "reserved", None
        return "busy", None


_ENTITY_NS = uuid.UUID("6c1f1d1e-8a4e-4c0b-9a57-1e1a2f7d0b11")


def new_entity_id(request: Request) -> uuid.UUID:
    """Id for the entity a creating POST makes: stable per idempotency key, random without one."""
    key = getattr(request.state, "idempotency_key", None)
    principal = getattr(request.state, "principal", None)
    if key is None or principal is None:
        return uuid.uuid4()
    return uuid.uuid5(_ENTITY_NS, f"{principal.subject}\0{key}\0{request.url.path}")


def idempotent(*, wait: float = 5.0, lease: float = 300.0) -> Any:
    """The dependency for an [IK] endpoint (see module docstring)."""

    async def dependency(
        request: Request,
        idempotency_key: str | None = Header(
            None, alias=HEADER, min_length=1, max_length=255,
            description="Retry-safe creation: the same key and body replay the first response.",
        ),
    ) -> str | None:
        if idempotency_key is None:
            return None
        slot: _Slot | None = request.scope.get(SCOPE_KEY)
        principal = getattr(request.state, "principal", None)
        if slot is None or principal is None:
            raise RuntimeError("idempotent() needs IdempotencyMiddleware (api.idempotency.install) "
                               "and must come after the endpoint's require(...) parameter")
        digest = fingerprint(request.method, request.url.path, request.query_params.multi_items(),
                             await request_body(request))
        engine: AsyncEngine = request.app.state.engine
        # the same pool in autocommit (a shallow copy, ~20 µs): reservation and completion commit alone
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            outcome, row = await _claim(engine, autocommit, principal.subject, idempotency_key, request.method,
                                        request.url.path, digest, lease)
            if outcome == "reserved":
                slot.reservation = Reservation(autocommit, principal.subject, idempotency_key)
                request.state.idempotency_key = idempotency_key
                return idempotency_key
            if outcome == "replay":
                raise _Replay(row.status_code, row.headers, row.response_body)
            if asyncio.get_running_loop().time() >= deadline:
                raise IdempotencyRequestInProgress(
                    f"A request with Idempotency-Key {idempotency_key!r} is still being processed; retry later.")
            await asyncio.sleep(0.05)

    dependency.__lana_idempotent__ = True  # type: ignore[attr-defined]
    return Depends(dependency)


class IdempotencyMiddleware:
    """Buffers the response of a request that reserved a key, stores it, then sends it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot = scope[SCOPE_KEY] = _Slot()
        buffered: list[Message] = []

        async def capture(message: Message) -> None:
            if slot.reservation is None:
                await send(message)
            else:
                buffered.append(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if slot.reservation is not None:
                await asyncio.shield(slot.reservation.release())
            raise
        if slot.reservation is None:
            return
        start = next(m for m in buffered if m["type"] == "http.response.start")
        status = start["status"]
        if status >= 500 or status in RELEASE_STATUSES:
            await slot.reservation.release()
        else:
            body = b"".join(m.get("body", b"") for m in buffered if m["type"] == "http.response.body")
            headers = [[k.decode("latin-1"), v.decode("latin-1")]
                       for k, v in start.get("headers", []) if k.lower() not in _SKIP_HEADERS]
            await slot.reservation.complete(status, headers, body)
        for message in buffered:
            await send(message)


def install(app: FastAPI) -> None:
    """Called by ``create_app``: the middleware plus the handler that replays stored responses."""
    app.add_middleware(IdempotencyMiddleware)

    @app.exception_handler(_Replay)
    async def _replay(_request: Request, exc: _Replay) -> Response:
        headers = {k: v for k, v in exc.headers}
        headers["Idempotent-Replayed"] = "true"
        return Response(content=exc.body or b"", status_code=exc.status, headers=headers)
