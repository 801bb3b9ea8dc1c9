"""Issue 19 part B through the HTTP endpoint with the mock custodian (the bats flow of
custody-price-reports.md §7.2): a proposal naming the nil custodian gets the mock's wallet ``123`` at
approval; webhooks → inbox → the wallet's workflow → the facility's collateral and the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.harness import Stack
from tests.integration.credit.facility_helpers import PRICE, set_price, wait_for
from tests.integration.custody.sync_helpers import (
    API,
    collateral_postings,
    event_settled,
    mock_facility,
    wallet_audits,
    wallet_row,
)


@pytest.fixture
async def mock_stack(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, custody_mock_enabled=True,
                           custody_wallet_idle_seconds=0, custody_unknown_wallet_attempts=2) as stack:
        await set_price(stack.engine, PRICE)
        yield stack


async def _post(http, body: dict):
    return await http.post("/webhooks/custodians/mock", json=body)


async def test_mock_deposit_activates_a_pending_facility_and_completion_releases_through_custody(mock_stack):
    stack, http = mock_stack, mock_stack.http
    facility, wid = await mock_facility(stack)
    fid = facility["id"]
    assert facility["wallet"]["address"] == "bt1qaddressmock"

    # §7.2: manual updates are refused for custodian-managed collateral
    r = await http.post(f"{API}/collaterals/{facility['collateral_id']}/manual-update", json={"collateral": 50_000_000})
    assert (r.status_code, r.json()["code"]) == (409, "credit.manual_update_with_custodian"), r.text

    # §7.2: {"wallet": "123", "balance": 1000} ⇒ the pending facility's collateral is 1000
    r = await _post(http, {"wallet": "123", "balance": 1000})
    assert r.status_code == 202, r.text
    first = r.json()
    assert first["status"] == "PENDING" and not first["replayed"]
    assert (await event_settled(http, first["id"]))["status"] == "COMPLETED"
    pending = await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{fid}"),
                             lambda b: b["collateral"] == 1000)
    assert pending["pending_status"] == "PENDING_COLLATERALIZATION"
    # a replay stores nothing new and moves nothing
    again = await _post(http, {"wallet": "123", "balance": 1000})
    assert (again.status_code, again.json()["id"], again.json()["replayed"]) == (200, first["id"], True)

    # a deposit that collateralizes it activates it (0.1 BTC = $6,000 against $1,000)
    r = await _post(http, {"wallet": "123", "balance": 10_000_000})
    assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    body = await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b: b["status"] == "ACTIVE")
    assert body["collateral"] == 10_000_000
    # the single read (one statement with its wallet and custody) offers no manual update either
    assert body["capabilities"]["update_collateral"] is False
    assert body["wallet"]["address"] == "bt1qaddressmock"
    for sats in (15_000_000, 12_000_000):
        r = await _post(http, {"wallet": "123", "balance": sats})
        assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
        await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b, s=sats: b["collateral"] == s)
    assert await collateral_postings(stack.engine, fid) == [
        ("ADD_COLLATERAL", 1000), ("ADD_COLLATERAL", 9_999_000), ("ADD_COLLATERAL", 5_000_000),
        ("REMOVE_COLLATERAL", 3_000_000)]
    assert await wallet_audits(stack.engine, wid) == ["system:mock"] * 4
    updates = (await http.get(f"{API}/credit-facilities/{fid}/collateral-updates")).json()
    assert {u["recorded_by"] for u in updates} == {"system:custodian-sync"}

    # completion releases through the custody path; later notices are stored but move nothing
    r = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 100_000})
    assert r.status_code == 201, r.text
    r = await http.post(f"{API}/credit-facilities/{fid}/complete")
    assert (r.status_code, r.json()["status"], r.json()["collateral"]) == (200, "CLOSED", 0), r.text
    updates = (await http.get(f"{API}/credit-facilities/{fid}/collateral-updates")).json()
    assert (updates[-1]["collateral"], updates[-1]["recorded_by"]) == (0, "system:custodian-sync")
    assert (await wallet_row(stack.engine, wid)).released_at is not None
    assert (await wallet_audits(stack.engine, wid))[-1] == "system:custodian-sync"  # the release
    r = await _post(http, {"wallet": "123", "balance": 7})
    assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    assert (await wallet_row(stack.engine, wid)).balance_sats == 7
    postings = await collateral_postings(stack.engine, fid)
    assert postings[-1] == ("REMOVE_COLLATERAL", 12_000_000) and len(postings) == 5


async def test_mock_newest_wallet_unknown_wallet_ignored_bodies_and_limits(mock_stack):
    stack, http = mock_stack, mock_stack.http
    older, older_wid = await mock_facility(stack)
    newer, newer_wid = await mock_facility(stack)
    # §1.7 spec rule: several wallets with the mock's one external id ⇒ the most recently created
    r = await _post(http, {"wallet": "123", "balance": 2000})
    assert (await event_settled(http, r.json()["id"]))["wallet_id"] == newer_wid
    await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{newer['id']}"), lambda b: b["collateral"] == 2000)
    assert (await http.get(f"{API}/pending-credit-facilities/{older['id']}")).json()["collateral"] == 0
    assert (await wallet_row(stack.engine, older_wid)).balance_sats is None

    # §2.3: any other body is ignored, nothing stored
    for content in (b"not json", b'{"hello": "world"}', b'{"wallet": "x", "balance": "0.5"}'):
        r = await http.post("/webhooks/custodians/mock", content=content)
        assert (r.status_code, r.json()["status"]) == (200, "IGNORED"), r.text
    # an unknown provider, or a provider without a custodian: 404
    r = await http.post("/webhooks/custodians/acme", json={})
    assert (r.status_code, r.json()["code"]) == (404, "custody.custodian_not_found")
    assert (await http.post("/webhooks/custodians/bitgo", json={})).json()["code"] == "custody.custodian_not_found"
    # an unknown wallet: bounded retries, then FAILED with the reason
    r = await _post(http, {"wallet": "nobody", "balance": 5})
    assert r.status_code == 202, r.text
    failed = await event_settled(http, r.json()["id"], within=30)
    assert failed["status"] == "FAILED" and "custody.wallet_not_found" in failed["error"], failed
    # a body over the limit: refused before it is read
    r = await http.post("/webhooks/custodians/mock", content=b"x" * (stack.settings.webhook_max_body_bytes + 1))
    assert (r.status_code, r.json()["code"]) == (413, "common.payload_too_large")
    # an unknown event id is 404
    missing = await http.get(f"{API}/custodian-webhook-events/00000000-0000-0000-0000-000000000001")
    assert (missing.status_code, missing.json()["code"]) == (404, "custody.webhook_event_not_found")


async def test_mock_webhooks_refused_unless_enabled(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, custody_mock_enabled=False) as stack:
        r = await stack.http.post("/webhooks/custodians/mock", json={"wallet": "123", "balance": 1})
        assert (r.status_code, r.json()["code"]) == (404, "custody.custodian_not_found")


async def test_a_stored_notice_whose_hand_over_was_lost_is_handed_over_by_the_sweep(mock_stack):
    from activities.custody import inbox
    from activities.custody.mock import MockClient
    from workers.reconcile import sweep

    stack, http = mock_stack, mock_stack.http
    facility, wid = await mock_facility(stack)
    body = b'{"wallet": "123", "balance": 10000000}'
    notice = MockClient().parse_webhook({}, body)
    async with stack.engine.begin() as conn:  # the API stored it, then died before the signal
        stored = await inbox.store(conn, "mock", notice, body, wid)
    assert (await http.get(f"{API}/custodian-webhook-events/{stored.id}")).json()["status"] == "PENDING"
    queue = stack.settings.temporal_task_queue
    assert await sweep(stack.engine, stack.client, queue, grace=timedelta(0), settings=stack.settings) == 1
    assert (await event_settled(http, stored.id))["status"] == "COMPLETED"
    body = await wait_for(lambda: http.get(f"{API}/credit-facilities/{facility['id']}"),
                          lambda b: b["status"] == "ACTIVE")
    assert body["collateral"] == 10_000_000
    # the row left the outbox: a second sweep hands nothing over
    assert await sweep(stack.engine, stack.client, queue, grace=timedelta(0), settings=stack.settings) == 0
