"""Fuzz the whole OpenAPI document: no 5xx (except a documented 502-504, such as /readyz's 503),
every 4xx is RFC 9457 problem+json.

Runs against the real stack (migrated database, Temporal test server, in-process worker) through
``stack.http``, so endpoints added later are covered without touching this file and the harness's
default headers (authentication) apply. Bounded: at most ``LANA_FUZZ_REQUESTS`` requests overall
(default 1500), 5 to 25 examples per operation and generation mode, derandomized.
"""

from __future__ import annotations

import time

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.app import API_PREFIX, create_app
from tests import harness
from tests.fuzz import fuzz_app


async def test_whole_api_survives_fuzzing(stack):
    started = time.monotonic()
    report = await fuzz_app(stack.http, stack.app.openapi())
    print(f"\nfuzz: {len(report.operations)} operations, {report.requests} requests "
          f"in {time.monotonic() - started:.1f}s")
    assert "GET /readyz" in report.operations
    assert set(report.per_operation) == set(report.operations)  # every operation was exercised
    assert report.failures == [], "\n".join(report.failures)
    # If authentication is not wired into stack.http, every operator call is a 401 and the fuzz
    # covers nothing behind it: fail loudly instead.
    operator = [(label, status) for (label, status) in report.statuses if " /api/v1/" in label]
    assert not operator or any(status != 401 for _, status in operator), "fuzz never got past auth"


async def test_fuzzer_catches_server_errors_and_non_problem_4xx(db_url, engine):
    """The check itself can fail: a deliberately broken router is caught."""
    router = APIRouter()

    @router.get("/divide")
    async def divide(n: int) -> dict:
        return {"result": 100 // n}  # n == 0 → unhandled ZeroDivisionError → 500

    @router.get("/plain-400")
    async def plain() -> JSONResponse:
        return JSONResponse({"error": "bad"}, status_code=400)

    app = create_app(harness.test_settings(db_url), engine=engine)
    app.include_router(router, prefix=API_PREFIX)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://lana.test") as http:
            report = await fuzz_app(http, app.openapi(), total_requests=200)
    text = "\n".join(report.failures)
    assert "/api/v1/divide?n=0" in text and "server error 500" in text
    assert "/api/v1/plain-400" in text and "expected application/problem+json" in text
