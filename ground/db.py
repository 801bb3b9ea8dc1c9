"""Database engine construction (SQLAlchemy 2 async + asyncpg)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (it cost three round trips per checkout: BEGIN, ping, ROLLBACK): a connection the
        # server dropped fails its first statement, that request answers 503 common.store_unavailable
        # (an activity retries) and the pool discards every connection older than the failure.
        pool_pre_ping=False,
        # An unreachable server (dropped packets, not a refusal) fails a connection after 10 s, not
        # asyncpg's 60 s: 503 common.store_unavailable (api/errors.py) instead of a held request.
        connect_args={"timeout": 10, "server_settings": {"timezone": "UTC", "application_name": "lana"}},
    )


def asyncpg_dsn(url: str) -> str:
    """The plain libpq DSN for tools that do not speak SQLAlchemy URLs (asyncpg, pgbench)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
