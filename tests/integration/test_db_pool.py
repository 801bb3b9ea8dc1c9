"""The pool without pre-ping: a connection the server dropped costs one failed statement, seen as
the store being unavailable (503 / a retried activity), and the pool recovers by itself."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.errors import store_unavailable
from ground.db import create_engine


async def test_connections_dropped_by_the_server_fail_once_then_the_pool_recovers(db_url):
    engine = create_engine(db_url, pool_size=3, max_overflow=0)
    try:
        conns = [await engine.connect() for _ in range(3)]  # three pooled connections
        for conn in conns:
            await conn.execute(text("SELECT 1"))
            await conn.close()
        async with engine.connect() as admin_conn:  # the server drops every other session (a restart)
            dropped = (await admin_conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"))).scalar_one()
        assert dropped == 2
        with pytest.raises(Exception) as failed:  # noqa: PT011 - whatever the driver raises
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert store_unavailable(failed.value)
        for _ in range(4):  # every later checkout gets a live connection
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
