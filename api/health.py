"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Process is up")
@router.get("/health", summary="Process is up (the spec's name, api-surface §16; same as /healthz)")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Database and Temporal are reachable",
            responses={503: {"description": "A dependency is unreachable"}})
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with request.app.state.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=2)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, never raise
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        client = await asyncio.wait_for(request.app.state.temporal.get(), timeout=3)
        await asyncio.wait_for(client.service_client.check_health(), timeout=2)
        checks["temporal"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["temporal"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)
