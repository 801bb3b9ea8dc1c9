"""Issue 19 part B through the HTTP endpoint with the mock custodian: webhook → inbox → the
wallet's workflow → the facility's collateral and the ledger (custody-price-reports.md §1.7, §2.3)."""

from __future__ import annotations

import uuid

import pytest

from tests.harness import Stack
from tests.integration.credit.facility_helpers import PRICE, set_price, wait_for
from tests.integration.custody.sync_helpers import (
    API,
    collateral_postings,
    custodian,
    event_settled,
    pending_facility,
    wallet,
    wallet_audits,
    wallet_row,
)

SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0", "customer_acceptance_required": False}


@pytest.fixture
async def custody_stack(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, custody_mock_enabled=True,
                           custody_wallet_idle_seconds=0, custody_unknown_wallet_attempts=2) as stack:
        yield stack


async def _post(http, body: dict):
    return await http.post("/webhooks/custodians/mock", json=body)


async def test_mock_deposit_activates_then_worked_example_then_completion_releases(custody_stack):
    stack, http = custody_stack, custody_stack.http
    await set_price(stack.engine, PRICE)
    facility = await pending_facility(stack, 100_000, **SINGLE)
    fid, ext = facility["id"], f"mock-{uuid.uuid4().hex[:8]}"
    wid = await wallet(stack.engine, await custodian(stack.engine, "mock"), "mock", facility, ext)

    # manual updates are refused for custodian-managed collateral (§1.6)
    r = await http.post(f"{API}/collaterals/{facility['collateral_id']}/manual-update", json={"collateral": 50_000_000})
    assert (r.status_code, r.json()["code"]) == (409, "credit.manual_update_with_custodian"), r.text
    assert r.json()["title"] == "Cannot update collateral with a custodian"

    # a custodian deposit activates the pending facility (0.1 BTC = $6,000 against $1,000)
    r = await _post(http, {"wallet": ext, "balance": 10_000_000})
    assert r.status_code == 202, r.text
    first = r.json()
    assert first["status"] == "PENDING" and not first["replayed"]
    assert (await event_settled(http, first["id"]))["status"] == "COMPLETED"
    body = await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b: b["status"] == "ACTIVE")
    assert body["collateral"] == 10_000_000
    assert await collateral_postings(stack.engine, fid) == [("ADD_COLLATERAL", 10_000_000)]
    updates = (await http.get(f"{API}/credit-facilities/{fid}/collateral-updates")).json()
    assert [u["recorded_by"] for u in updates] == ["system:custodian-sync"]

    # a replay stores nothing new and moves nothing
    again = await _post(http, {"wallet": ext, "balance": 10_000_000})
    assert (again.status_code, again.json()["id"], again.json()["replayed"]) == (200, first["id"], True)

    # more, then less: each difference posted at the change's date (the equal-balance case: test_bitgo_sync)
    for sats in (15_000_000, 12_000_000):
        r = await _post(http, {"wallet": ext, "balance": sats})
        assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
        await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b, s=sats: b["collateral"] == s)
    assert await wallet_audits(stack.engine, wid) == ["system:mock"] * 3
    assert await collateral_postings(stack.engine, fid) == [
        ("ADD_COLLATERAL", 10_000_000), ("ADD_COLLATERAL", 5_000_000), ("REMOVE_COLLATERAL", 3_000_000)]
    assert (await wallet_row(stack.engine, wid)).balance_sats == 12_000_000

    # completion releases through the custody path; later notices are stored but move nothing
    r = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 100_000})
    assert r.status_code == 201, r.text
    r = await http.post(f"{API}/credit-facilities/{fid}/complete")
    assert (r.status_code, r.json()["status"], r.json()["collateral"]) == (200, "CLOSED", 0), r.text
    updates = (await http.get(f"{API}/credit-facilities/{fid}/collateral-updates")).json()
    assert (updates[-1]["collateral"], updates[-1]["recorded_by"]) == (0, "system:custodian-sync")
    assert (await wallet_row(stack.engine, wid)).released_at is not None
    r = await _post(http, {"wallet": ext, "balance": 1_000})
    assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    assert (await wallet_row(stack.engine, wid)).balance_sats == 1_000
    postings = await collateral_postings(stack.engine, fid)
    assert postings[-1] == ("REMOVE_COLLATERAL", 12_000_000) and len(postings) == 4


async def test_mock_out_of_order_unknown_wallet_garbage_and_disabled(custody_stack):
    stack, http = custody_stack, custody_stack.http
    await set_price(stack.engine, PRICE)
    facility = await pending_facility(stack, 100_000, **SINGLE)
    ext = f"mock-{uuid.uuid4().hex[:8]}"
    await wallet(stack.engine, await custodian(stack.engine, "mock"), "mock", facility, ext)

    # §2.3: any other body is ignored, nothing stored
    for content in (b"not json", b'{"hello": "world"}', b'{"wallet": "x", "balance": "0.5"}'):
        r = await http.post("/webhooks/custodians/mock", content=content)
        assert (r.status_code, r.json()["status"]) == (200, "IGNORED"), r.text
    # an unknown provider / custodian: 404
    assert (await http.post("/webhooks/custodians/acme", json={})).status_code == 404
    assert (await http.post("/webhooks/custodians/bitgo", json={})).json()["code"] == "custody.custodian_not_found"

    # unknown wallet: bounded retries, then FAILED with the reason
    r = await _post(http, {"wallet": "nobody", "balance": 5})
    assert r.status_code == 202, r.text
    failed = await event_settled(http, r.json()["id"], within=30)
    assert failed["status"] == "FAILED" and "custody.wallet_not_found" in failed["error"], failed

    # body over the limit: refused before it is read
    r = await http.post("/webhooks/custodians/mock", content=b"x" * (stack.settings.webhook_max_body_bytes + 1))
    assert (r.status_code, r.json()["code"]) == (413, "common.payload_too_large")


async def test_mock_webhooks_refused_unless_enabled(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, custody_mock_enabled=False) as stack:
        await custodian(stack.engine, "mock")
        r = await stack.http.post("/webhooks/custodians/mock", json={"wallet": "123", "balance": 1})
        assert (r.status_code, r.json()["code"]) == (404, "custody.custodian_not_found")


async def test_a_stored_notice_whose_hand_over_was_lost_is_handed_over_by_the_sweep(custody_stack):
    from datetime import timedelta

    from activities.custody import inbox
    from activities.custody.mock import MockClient
    from workers.reconcile import sweep

    stack, http = custody_stack, custody_stack.http
    await set_price(stack.engine, PRICE)
    facility = await pending_facility(stack, 100_000, **SINGLE)
    ext = f"mock-{uuid.uuid4().hex[:8]}"
    wid = await wallet(stack.engine, await custodian(stack.engine, "mock"), "mock", facility, ext)
    body = b'{"wallet": "%s", "balance": 10000000}' % ext.encode()
    notice = MockClient().parse_webhook({}, body)
    async with stack.engine.begin() as conn:  # the API stored it, then died before the signal
        stored = await inbox.store(conn, "mock", notice, body, wid)
    assert (await http.get(f"{API}/custodian-webhook-events/{stored.id}")).json()["status"] == "PENDING"
    started = await sweep(stack.engine, stack.client, stack.settings.temporal_task_queue, grace=timedelta(0),
                          settings=stack.settings)
    assert started == 1
    assert (await event_settled(http, stored.id))["status"] == "COMPLETED"
    body = await wait_for(lambda: http.get(f"{API}/credit-facilities/{facility['id']}"),
                          lambda b: b["status"] == "ACTIVE")
    assert body["collateral"] == 10_000_000
    # the row left the outbox: a second sweep hands nothing over
    assert await sweep(stack.engine, stack.client, stack.settings.temporal_task_queue, grace=timedelta(0),
                       settings=stack.settings) == 0
