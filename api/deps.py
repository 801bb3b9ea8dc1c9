"""Shared FastAPI dependencies: database connections and the Temporal client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.client import Client

from domain.errors import ServiceUnavailable


class LazyTemporal:
    """Connects on first use, so the API starts (and /readyz reports) while Temporal is down."""

    def __init__(self, factory: Callable[[], Awaitable[Client]]) -> None:
        self._factory = factory
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await self._factory()
        return self._client

    def set(self, client: Client) -> None:
        self._client = client


async def get_engine(request: Request) -> AsyncEngine:
    return request.app.state.engine


async def read_conn(request: Request) -> AsyncIterator[AsyncConnection]:
    """The request's connection for its reads, in autocommit whatever the method: READ COMMITTED
    takes a snapshot per statement, so BEGIN … ROLLBACK around a request's reads adds two round trips
    (four where a write route ends its reads before calling the workflow and reads its answer after)
    and no consistency. A read that needs one snapshot is one statement (the dashboard) or sets
    REPEATABLE READ itself; routes write only through their workflows, or on a connection of their
    own (``engine.begin()``). The authorization check runs on it too, before the reads begin
    (``api/authz.py``), so a request holds one pooled connection, not two. The pool resets the level."""
    async with request.app.state.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        request.state.read_autocommit = True
        request.state.read_conn = conn
        yield conn


def autocommit_engine(request: Request) -> AsyncEngine:
    """The app's pool in autocommit (a shallow copy, ~20 µs), for reads outside a request's own
    connection (a stream's checks and replay pages): one statement, one round trip."""
    return request.app.state.engine.execution_options(isolation_level="AUTOCOMMIT")


async def temporal_client(request: Request) -> Client:
    try:
        return await asyncio.wait_for(request.app.state.temporal.get(), timeout=5)
    except Exception as exc:  # noqa: BLE001
        raise ServiceUnavailable("Temporal is unreachable.") from exc


EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
ReadConn = Annotated[AsyncConnection, Depends(read_conn)]
TemporalDep = Annotated[Client, Depends(temporal_client)]
