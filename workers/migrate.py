"""`lana migrate`: database migrations and Temporal namespace set-up, both idempotent."""

from __future__ import annotations

import asyncio

import structlog

from activities import migrate
from ground.settings import Settings
from ground.temporal import connect
from workers import search_attributes

log = structlog.get_logger(__name__)


async def run_migrate(settings: Settings, *, temporal: bool = True) -> None:
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    log.info("database migrated")
    if temporal:
        client = await connect(settings)
        added = await search_attributes.register(client, settings.temporal_namespace)
        log.info("search attributes registered", added=added, namespace=settings.temporal_namespace)
        from workers.schedules import ensure_all

        await ensure_all(client, settings)
