"""API start-up and shutdown for access control and audit: seed, authorizer, audit sealer."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.access_store import seed
from activities.audit import AnchorLog, AuditKeys, run_sealer
from api.authz import Authorizer
from ground.settings import Settings


async def start(app: FastAPI, settings: Settings, engine: AsyncEngine) -> None:
    keys = AuditKeys.from_settings(settings)  # production refuses to start without the audit key
    async with engine.begin() as conn:
        await seed(conn)  # reconcile permission sets and predefined roles (§B3); idempotent
    app.state.authz = Authorizer(settings, engine)
    app.state.audit_sealer = (
        asyncio.create_task(run_sealer(engine, keys, settings.audit_seal_interval_s,
                                       AnchorLog(settings.audit_anchor_file), settings.audit_anchor_interval_s))
        if settings.audit_seal_interval_s > 0 else None)


async def stop(app: FastAPI) -> None:
    task = getattr(app.state, "audit_sealer", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
