"""Shared helpers for customer tests: a stack wired to the fake SumSub, signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from contextlib import asynccontextmanager

from sqlalchemy import select

from activities.event_store import events
from tests.fakes.sumsub import running_fake_sumsub
from tests.harness import Stack
from workflows.customer_kyc import kyc_workflow_id

WEBHOOK_SECRET = "webhook-secret"


@asynccontextmanager
async def customer_stack(db_url, engine, client, **overrides):
    async with running_fake_sumsub() as fake:
        settings = {"sumsub_base_url": fake.url, "sumsub_app_token": fake.token,
                    "sumsub_secret_key": fake.secret, "sumsub_webhook_secret": WEBHOOK_SECRET,
                    # the time-skipping server does not skip while a test awaits a signalled run
                    "kyc_workflow_idle_seconds": 0}
        settings.update(overrides)
        async with Stack.start(db_url, engine, client, **settings) as stack:
            stack.sumsub = fake  # type: ignore[attr-defined]
            yield stack


async def create_customer(http, customer_type="Individual", email=None) -> dict:
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    r = await http.post("/api/v1/customers", json={
        "email": email, "telegram_handle": f"h{uuid.uuid4().hex[:10]}", "customer_type": customer_type})
    assert r.status_code == 201, r.text
    return r.json()


def review(customer_id: str, answer: str, *, created_at: str = "2026-01-01 10:00:00.000",
           level: str = "basic-kyc-level", correlation: str | None = None) -> bytes:
    return json.dumps({
        "type": "applicantReviewed", "applicantId": "app-0001", "inspectionId": "insp-1",
        "correlationId": correlation or f"req-{uuid.uuid4().hex[:8]}", "externalUserId": customer_id,
        "levelName": level, "reviewResult": {"reviewAnswer": answer}, "reviewStatus": "completed",
        "createdAtMs": created_at, "sandboxMode": True,
    }).encode()


def digest(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_webhook(stack, body: bytes, signature: str | None = "valid"):
    headers = {"content-type": "application/json", "x-payload-digest-alg": "HMAC_SHA256_HEX"}
    if signature == "valid":
        headers["x-payload-digest"] = digest(body)
    elif signature is not None:
        headers["x-payload-digest"] = signature
    return await stack.http.post("/webhooks/sumsub", content=body, headers=headers)


async def deliver(stack, customer_id: str, body: bytes) -> None:
    """Post a signed webhook and wait until the customer's KYC workflow run has finished."""
    r = await post_webhook(stack, body)
    assert r.status_code == 200, r.text
    await stack.client.get_workflow_handle(kyc_workflow_id(customer_id)).result()


async def customer_events(stack, entity_id: str, entity_type: str = "customer") -> list[tuple[str, dict]]:
    """The entity's events (type, payload) in order (a customer's unless ``entity_type`` says)."""
    async with stack.engine.connect() as conn:
        rows = await conn.execute(select(events.c.event_type, events.c.payload).where(
            events.c.entity_type == entity_type, events.c.entity_id == entity_id).order_by(events.c.sequence))
        return [(r.event_type, r.payload) for r in rows]
