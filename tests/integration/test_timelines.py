"""Event timelines (``GET /<resource>/{id}/events``): the entity's own events, ids stripped, linked to
the audit entry of their transaction, keyset pages, the parent's read permission."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import text

from activities import event_store
from api.timelines import TIMELINES, strip_ids
from tests.harness import Stack
from tests.integration.credit.facility_helpers import PRICE, set_price
from tests.integration.portal_helpers import API, customer_world

RESOURCES = [("customer", "customers"), ("account", "deposit-accounts"), ("deposit", "deposits"),
             ("withdrawal", "withdrawals"), ("facility", "credit-facilities"), ("disbursal", "disbursals"),
             ("payment", "payments"), ("obligation0", "obligations"),
             ("withdrawal", "approval-processes")]  # a withdrawal's approval process has its id


@pytest.fixture
async def timeline_stack(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
        yield stack


async def _all_pages(http, path: str, first: int) -> list[dict]:
    items, after = [], None
    while True:
        r = await http.get(path, params={"first": first, **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        after = r.json()["next_cursor"]
        if after is None:
            return items


async def test_each_timeline_is_the_entitys_events_without_ids(timeline_stack):
    stack, http = timeline_stack, timeline_stack.http
    await set_price(stack.engine, PRICE)
    ids = (await customer_world(stack))["ids"]
    entity_type = {segment: t for segment, t, _, _ in TIMELINES}
    linked = 0
    for key, resource in RESOURCES:
        # an entity may still be moving (the withdrawal's approval concludes in its workflow): compare
        # a timeline read between two equal loads of the stored events
        for _ in range(100):
            async with stack.engine.connect() as conn:
                stored = await event_store.load(conn, entity_type[resource], ids[key])
            items = await _all_pages(http, f"{API}/{resource}/{ids[key]}/events", first=2)
            async with stack.engine.connect() as conn:
                if len(await event_store.load(conn, entity_type[resource], ids[key])) == len(stored):
                    break
            await asyncio.sleep(0.1)
        assert stored, key
        assert [(i["sequence"], i["event_type"], i["payload"]) for i in items] == [
            (e.sequence, e.event_type, strip_ids(e.payload)) for e in stored], resource
        for item in items:
            assert not any(k == "id" or k.endswith("_id") for k in item["payload"]), item
            assert f'"{ids[key]}"' not in json.dumps(item["payload"])  # no UUID-valued string left
            if item["audit_entry_id"] is not None:
                linked += 1
                async with stack.engine.connect() as conn:
                    entry = (await conn.execute(text("SELECT subject, object FROM audit_entries WHERE id = :i"),
                                                {"i": item["audit_entry_id"]})).one()
                assert entry.object.endswith(f"/{ids[key]}")
                assert item["subject"] in (entry.subject, stored[item["sequence"] - 1].payload.get("actor"))
    assert linked > 0  # the facility's workflow steps audit their system actions with their events

    customer_events = (await http.get(f"{API}/customers/{ids['customer']}/events")).json()["items"]
    assert customer_events[0]["event_type"] == "initialized" and customer_events[0]["subject"].startswith("user:")
    # the same loan under its three stage paths
    for prefix in ("credit-facility-proposals", "pending-credit-facilities"):
        assert (await http.get(f"{API}/{prefix}/{ids['facility']}/events")).json() == (
            await http.get(f"{API}/credit-facilities/{ids['facility']}/events")).json()


async def test_timeline_refusals(timeline_stack):
    stack, http = timeline_stack, timeline_stack.http
    r = await http.post(f"{API}/customers", json={"email": "t@example.com", "telegram_handle": "t",
                                                  "customer_type": "Individual"})
    cid = r.json()["id"]
    missing = await http.get(f"{API}/customers/{uuid.uuid4()}/events")
    assert (missing.status_code, missing.json()["code"]) == (404, "common.not_found")
    bad = await http.get(f"{API}/customers/{cid}/events", params={"after": "bm90LWEtY3Vyc29y"})
    assert (bad.status_code, bad.json()["code"]) == (422, "common.invalid_cursor")
    sets = {x["name"]: x["id"] for x in (await http.get(f"{API}/permission-sets", params={"first": 100})
                                         ).json()["items"]}
    r = await http.post(f"{API}/roles", json={"name": "deposits-only", "permission_set_ids": [sets["deposit_viewer"]]})
    assert r.status_code == 201, r.text
    r = await http.post(f"{API}/users", json={"email": "dep@bank.test", "role_id": r.json()["id"]})
    assert r.status_code == 201, r.text
    viewer = await stack.client_for("dep@bank.test", "deposits-only")
    r = await viewer.get(f"{API}/customers/{cid}/events")
    assert (r.status_code, r.json()["code"]) == (403, "auth.forbidden")  # no customer:customer:read
    async with stack.engine.connect() as conn:
        rows = [tuple(x) for x in await conn.execute(text(
            "SELECT action, authorized FROM audit_entries WHERE object = :o AND subject LIKE 'user:%' ORDER BY id"),
            {"o": f"customer/customer/{cid}"})]
    assert rows[-1] == ("customer:customer:read", False)
