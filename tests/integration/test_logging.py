"""Production settings: every log line is JSON and carries the request id (API)."""

from __future__ import annotations

import dataclasses
import json
import logging

import httpx
import pytest
import structlog
from fastapi import APIRouter

from api.app import API_PREFIX, create_app
from tests import harness
from workers.logging_setup import configure


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


async def test_production_logs_are_json_lines_with_the_request_id(db_url, engine, capsys, restore_logging):
    settings = harness.test_settings(db_url, environment="production", log_json=None,
                                     oidc_jwks_url="http://127.0.0.1:9/jwks", oidc_issuer="https://idp.test")
    assert settings.json_logs
    configure(settings.log_level, settings.json_logs)

    router = APIRouter()

    @router.get("/log-something")
    async def log_something() -> dict:
        structlog.get_logger("lana.test").info("structlog line", amount_cents=1234)
        logging.getLogger("some.library").warning("stdlib line")
        return {}

    @router.get("/crash")
    async def crash() -> dict:
        raise RuntimeError("boom")

    app = create_app(settings, engine=engine)
    app.include_router(router, prefix=API_PREFIX)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://lana.test") as http:
            r = await http.get("/api/v1/log-something", headers={"x-request-id": "req-123"})
            assert r.status_code == 200 and r.headers["x-request-id"] == "req-123"
            r = await http.get("/api/v1/crash", headers={"x-request-id": "req-456"})
            assert r.status_code == 500

    raw = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    lines = [json.loads(line) for line in raw]  # every line is one JSON object
    assert all("timestamp" in e and "level" in e for e in lines)
    by_event = {e["event"]: e for e in lines}
    assert by_event["structlog line"]["request_id"] == "req-123"
    assert by_event["structlog line"]["amount_cents"] == 1234
    assert by_event["stdlib line"]["request_id"] == "req-123"
    access = [e for e in lines if e["event"] == "request" and e["request_id"] == "req-123"]
    assert access and access[0]["status"] == 200 and access[0]["path"] == "/api/v1/log-something"
    failure = by_event["unhandled error"]
    assert failure["request_id"] == "req-456" and failure["level"] == "error"
    assert "RuntimeError: boom" in failure["exception"]


async def test_activity_log_lines_carry_workflow_id_and_activity(capsys, restore_logging):
    from temporalio import activity
    from temporalio.testing import ActivityEnvironment

    configure("INFO", json=True)

    @activity.defn(name="post_something")
    async def post_something() -> None:
        structlog.get_logger("lana.test").info("inside activity")

    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="withdrawal-42", activity_type="post_something")
    await env.run(post_something)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    entry = next(e for e in lines if e["event"] == "inside activity")
    assert entry["workflow_id"] == "withdrawal-42" and entry["activity"] == "post_something"
