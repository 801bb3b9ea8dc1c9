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
                                     oidc_jwks_url="http://127.0.0.1:9/jwks", oidc_issuer="https://idp.test",
                                     documents_link_secret="d" * 32, audit_hmac_key="a" * 32,
                                     sumsub_webhook_secret="from-sumsub", custody_encryption_key="c" * 64)
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


async def test_database_down_is_503_store_unavailable_with_an_access_line(db_url, engine, capsys, restore_logging):
    """PostgreSQL unreachable (connection refused): every request answers 503
    ``common.store_unavailable`` with Retry-After, never 500, and each one gets its access-log line."""
    from ground.db import create_engine
    from workers.embedded_pg import free_port

    configure("INFO", json=True)
    settings = harness.test_settings(db_url)
    app = create_app(settings, engine=engine)
    down = create_engine(f"postgresql+asyncpg://lana:lana@127.0.0.1:{free_port()}/lana")
    async with app.router.lifespan_context(app):
        token = harness.issue_dev_token(settings, "00000000-0000-0000-0000-000000000001")
        # The database goes away: every connection the app makes now is refused.
        app.state.engine = down
        app.state.authz.engine = down
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://lana.test",
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            requests = [("GET", "/api/v1/customers", None, {}),
                        ("GET", "/api/v1/audit-entries", None, {}),
                        ("POST", "/api/v1/customers", {"email": "a@example.com", "telegram_handle": "hdown",
                                                       "customer_type": "Individual"}, {"Idempotency-Key": "k-1"})]
            for i, (method, path, body, headers) in enumerate(requests):
                r = await http.request(method, path, json=body, headers={"x-request-id": f"down-{i}", **headers})
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["code"] == "common.store_unavailable"
                assert int(r.headers["Retry-After"]) >= 1
    await down.dispose()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    access = {e["request_id"]: e for e in lines if e["event"] == "request"}
    for i in range(len(requests)):
        assert access[f"down-{i}"]["status"] == 503
    assert not [e for e in lines if e["level"] == "error"]  # an expected outage: warnings, no tracebacks


async def test_price_provider_failure_logs_one_line_with_the_hint_and_no_traceback(
        db_url, engine, ts_env, capsys, restore_logging):
    """No network / Bitfinex failing: one warning per feed run naming the cause and the
    LANA_PRICE_SOURCE=manual hint, no traceback (the SDK used to log one per fetch attempt)."""
    import uuid
    from datetime import timedelta

    from domain.price.model import PriceFeedInput
    from tests.fakes.bitfinex import running_fake_bitfinex
    from workers.embedded_pg import free_port
    from workflows.price_feed import PriceFeedWorkflow

    configure("INFO", json=True)
    async with running_fake_bitfinex() as bfx:
        bfx.status = 503
        for url in (bfx.url, f"http://127.0.0.1:{free_port()}"):  # failing provider, then no network at all
            async with harness.Stack.start(db_url, engine, ts_env.client, price_bitfinex_url=url) as stack:
                capsys.readouterr()
                tick = await stack.client.execute_workflow(
                    PriceFeedWorkflow.run, PriceFeedInput(), id=f"price-feed-{uuid.uuid4().hex[:8]}",
                    task_queue=stack.settings.temporal_task_queue, execution_timeout=timedelta(minutes=5))
                assert tick.status == "fetch_failed"
                lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
                assert not [e for e in lines if "exception" in e or "Traceback" in str(e)], lines
                failures = [e for e in lines if "price fetch failed" in e["event"]]
                assert len(failures) == 1, lines
                assert "LANA_PRICE_SOURCE=manual" in failures[0]["event"]
                assert ("503" if url == bfx.url else "unreachable") in failures[0]["event"]
