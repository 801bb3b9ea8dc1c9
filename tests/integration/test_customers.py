"""Customers: create, duplicates, find, list with filters and pagination; the KYC gate."""

from __future__ import annotations

import uuid

import pytest

from activities.customers.repository import ensure_customer_verified
from domain.customers.errors import CustomerNotVerified
from tests.integration.customers_helpers import create_customer, deliver, review


async def test_create_read_and_reject_duplicates(cstack):
    http = cstack.http
    r = await http.post("/api/v1/customers", json={
        "email": "Ada@Example.com", "telegram_handle": "@ada", "customer_type": "PrivateCompany"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/api/v1/customers/{body['id']}"
    assert body["kyc_status"] == "PENDING_VERIFICATION" and body["kyc_level"] == "NOT_KYCED"
    assert body["activity"] == "ACTIVE" and body["telegram_handle"] == "ada"

    dup = await http.post("/api/v1/customers", json={
        "email": "ada@example.com", "telegram_handle": "other", "customer_type": "Bank"})
    assert dup.status_code == 409 and dup.json()["code"] == "customer.duplicate_email"
    dup = await http.post("/api/v1/customers", json={
        "email": "x@example.com", "telegram_handle": "ADA", "customer_type": "Bank"})
    assert dup.status_code == 409 and dup.json()["code"] == "customer.duplicate_telegram_handle"

    assert (await http.get(f"/api/v1/customers/{body['id']}")).json()["email"] == "Ada@Example.com"
    found = await http.get("/api/v1/customers/by-email", params={"email": "ADA@example.com"})
    assert found.status_code == 200 and found.json()["id"] == body["id"]
    missing = await http.get(f"/api/v1/customers/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["code"] == "customer.not_found"
    bad = await http.post("/api/v1/customers", json={
        "email": "nope", "telegram_handle": "z", "customer_type": "Alien"})
    assert bad.status_code == 422
    listed = (await http.get("/api/v1/customers")).json()["items"]
    assert len(listed) == 1  # the rejected requests changed nothing


async def test_list_filters_and_pages(cstack):
    http = cstack.http
    kinds = ["Individual", "Bank", "Individual", "GovernmentEntity", "Individual"]
    made = [await create_customer(http, k) for k in kinds]
    await deliver(cstack, made[0]["id"], review(made[0]["id"], "GREEN"))

    r = await http.get("/api/v1/customers", params={"customer_type": "Individual"})
    assert {c["id"] for c in r.json()["items"]} == {made[i]["id"] for i in (0, 2, 4)}
    r = await http.get("/api/v1/customers", params={"kyc_status": "Verified"})
    assert [c["id"] for c in r.json()["items"]] == [made[0]["id"]]
    r = await http.get("/api/v1/customers", params={"activity": "Suspended"})
    assert r.json()["items"] == []

    seen, after = [], None
    while True:
        params = {"first": 2, **({"after": after} if after else {})}
        page = (await http.get("/api/v1/customers", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert seen == [c["id"] for c in reversed(made)]  # newest first, each once
    asc = (await http.get("/api/v1/customers", params={"direction": "asc"})).json()["items"]
    assert [c["id"] for c in asc] == [c["id"] for c in made]
    bad = await http.get("/api/v1/customers", params={"after": "%%%"})
    assert bad.status_code == 422


async def test_kyc_gate_for_accounts_and_facilities(cstack):
    c = await create_customer(cstack.http)
    async with cstack.engine.connect() as conn:
        with pytest.raises(CustomerNotVerified):
            await ensure_customer_verified(conn, c["id"], kyc_required=True)
        await ensure_customer_verified(conn, c["id"], kyc_required=False)
    await deliver(cstack, c["id"], review(c["id"], "GREEN"))
    async with cstack.engine.connect() as conn:
        await ensure_customer_verified(conn, c["id"], kyc_required=True)


async def test_last_activity_only_moves_forward(cstack):
    from datetime import timedelta

    from activities.customers.repository import customer_row, record_customer_activity

    c = await create_customer(cstack.http)
    async with cstack.engine.begin() as conn:
        created = (await customer_row(conn, c["id"])).last_activity_at
        await record_customer_activity(conn, c["id"], created + timedelta(days=3))
        await record_customer_activity(conn, c["id"], created + timedelta(days=1))  # late, older
    body = (await cstack.http.get(f"/api/v1/customers/{c['id']}")).json()
    assert body["last_activity_at"].startswith((created + timedelta(days=3)).date().isoformat())
