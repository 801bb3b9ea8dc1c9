"""Issue 19 part B per provider, end to end through the HTTP endpoint: custodians created through
the API (configs encrypted), wallets created at approval, the real BitGo / Komainu / self-custody
adapters (signing, parsing, balance re-reads) against local fakes of their HTTP APIs, into the
wallet's workflow, the facility and the ledger (custody-price-reports.md §1.7, §2, §6)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from embit.bip32 import HDKey
from embit.networks import NETWORKS
from sqlalchemy import text

from tests.credit_fixtures import terms_json
from tests.harness import Stack
from tests.integration.credit.facility_helpers import PRICE, customer_with_deposit, set_price, wait_for
from tests.integration.custody.sync_helpers import (
    API,
    collateral_postings,
    event_settled,
    wallet_audits,
    wallet_row,
)
from tests.integration.custody.test_adapters import bitgo_config, komainu_config
from workflows.custody_wallet import SelfCustodyPollWorkflow

TERMS = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0", "customer_acceptance_required": False}


@pytest.fixture
async def sync_stack(db_url, engine, ts_env, fakes):
    """API + worker at the fakes, custody keyring set; wallet runs end when idle, two attempts to
    find an unknown wallet (the defaults are 60 s and 8)."""
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False,
                           custody_bitgo_url=fakes.bitgo.url, custody_komainu_url=fakes.komainu.url,
                           custody_esplora_urls={n: fakes.esplora.url for n in
                                                 ("mainnet", "testnet3", "testnet4", "signet")},
                           custody_encryption_key="22" * 32, custody_wallet_idle_seconds=0,
                           custody_unknown_wallet_attempts=2) as stack:
        await set_price(stack.engine, PRICE)
        yield stack


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _custodian(http, provider: str, **config) -> str:
    r = await http.post(f"{API}/custodians", json={"provider": provider, "name": f"{provider}-{uuid.uuid4().hex[:6]}",
                                                  **config}, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _facility_at(stack, custodian_id: str, before_approval=None) -> tuple[dict, str]:
    """A pending facility whose proposal named the custodian; returns it and its wallet's id."""
    customer_id, _ = await customer_with_deposit(stack)
    r = await stack.http.post(f"{API}/credit-facility-proposals", json={
        "customer_id": customer_id, "amount": 100_000, "terms": terms_json(**TERMS), "custodian_id": custodian_id})
    assert r.status_code == 201, r.text
    if before_approval is not None:
        before_approval(r.json()["id"])
    pending = await wait_for(lambda: stack.http.get(f"{API}/pending-credit-facilities/{r.json()['id']}"),
                             lambda b: b["wallet"] is not None and b["pending_status"] == "PENDING_COLLATERALIZATION")
    return pending, pending["wallet"]["wallet_id"]


async def _external_id(engine, wallet_id: str) -> str:
    return (await wallet_row(engine, wallet_id)).external_wallet_id


async def test_bitgo_worked_example_signatures_replay_out_of_order_and_unknown_wallet(sync_stack, fakes):
    stack, http, bitgo = sync_stack, sync_stack.http, fakes.bitgo
    facility, wid = await _facility_at(stack, await _custodian(http, "bitgo", **bitgo_config(bitgo)))
    fid, ext = facility["id"], await _external_id(stack.engine, wid)
    assert ext in bitgo.wallets  # created at BitGo at approval

    # custodian-managed: the operator cannot set the collateral
    r = await http.post(f"{API}/collaterals/{facility['collateral_id']}/manual-update", json={"collateral": 1})
    assert (r.status_code, r.json()["code"]) == (409, "credit.manual_update_with_custodian"), r.text
    assert r.json()["title"] == "Cannot update collateral with a custodian"

    # forged and missing signatures: 401 problem+json, audited, nothing stored
    body = bitgo.notice(ext, "t-0")
    forged = await http.post("/webhooks/custodians/bitgo", content=body, headers=bitgo.sign(body, "not-the-secret"))
    missing = await http.post("/webhooks/custodians/bitgo", content=body)
    for r in (forged, missing):
        assert (r.status_code, r.json()["code"]) == (401, "custody.webhook_signature_invalid"), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    async with stack.engine.connect() as conn:
        refused = (await conn.execute(text("SELECT count(*) FROM audit_entries WHERE subject = 'webhook:bitgo'"
                                           " AND NOT authorized"))).scalar()
        stored = (await conn.execute(text("SELECT count(*) FROM custody_inbox"))).scalar()
    assert (refused, stored) == (2, 0)
    # garbage, correctly signed: 422, nothing stored
    r = await http.post("/webhooks/custodians/bitgo", content=b"[]", headers=bitgo.sign(b"[]"))
    assert (r.status_code, r.json()["code"]) == (422, "custody.webhook_payload_invalid"), r.text

    async def notify(transfer: str, sats: int | None = None):
        if sats is not None:
            bitgo.set_balance(ext, sats)
        bitgo.set_transfer(ext, transfer, confirmed_time=_now_iso())
        body = bitgo.notice(ext, transfer)
        return await http.post("/webhooks/custodians/bitgo", content=body, headers=bitgo.sign(body))

    # §1.7 worked example: a deposit of 1 BTC (activates the pending facility) …
    r = await notify("t-1", 100_000_000)
    assert (r.status_code, r.json()["status"], r.json()["replayed"]) == (202, "PENDING", False), r.text
    assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    body = await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b: b["status"] == "ACTIVE")
    assert body["collateral"] == 100_000_000
    # … 1.5 BTC: Add 0.5 BTC; 1.2 BTC: Remove 0.3 BTC
    for transfer, sats in (("t-2", 150_000_000), ("t-3", 120_000_000)):
        r = await notify(transfer, sats)
        assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
        await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b, s=sats: b["collateral"] == s)
    expected = [("ADD_COLLATERAL", 100_000_000), ("ADD_COLLATERAL", 50_000_000), ("REMOVE_COLLATERAL", 30_000_000)]
    assert await collateral_postings(stack.engine, fid) == expected
    updates = (await http.get(f"{API}/credit-facilities/{fid}/collateral-updates")).json()
    assert {u["recorded_by"] for u in updates} == {"system:custodian-sync"}
    assert updates[-1]["effective"] == datetime.now(UTC).date().isoformat()  # the change's UTC date
    # 1.2 BTC again: no wallet event, no posting, one more audit row
    audits = await wallet_audits(stack.engine, wid)
    assert audits == ["system:bitgo"] * 3
    version = (await wallet_row(stack.engine, wid)).version
    r = await notify("t-4", 120_000_000)
    assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    assert await wallet_audits(stack.engine, wid) == [*audits, "system:bitgo"]
    assert (await wallet_row(stack.engine, wid)).version == version
    assert await collateral_postings(stack.engine, fid) == expected

    # replayed: 200, the stored id, nothing new stored
    body = bitgo.notice(ext, "t-4")
    again = await http.post("/webhooks/custodians/bitgo", content=body, headers=bitgo.sign(body))
    assert (again.status_code, again.json()["id"], again.json()["replayed"]) == (200, r.json()["id"], True)
    async with stack.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM custody_inbox"))).scalar() == 4

    # out of order: t-6 delivered before the older t-5; both re-read the current balance (1.1 BTC)
    bitgo.set_balance(ext, 110_000_000)
    for transfer in ("t-6", "t-5"):
        r = await notify(transfer)
        assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b: b["collateral"] == 110_000_000)
    assert await collateral_postings(stack.engine, fid) == [*expected, ("REMOVE_COLLATERAL", 10_000_000)]

    # an unknown wallet: bounded retries, then FAILED with the reason, visible through the API
    bitgo.wallets["w-nobody"] = {"id": "w-nobody", "confirmedBalance": 5}
    bitgo.set_transfer("w-nobody", "t-9")
    body = bitgo.notice("w-nobody", "t-9")
    r = await http.post("/webhooks/custodians/bitgo", content=body, headers=bitgo.sign(body))
    assert r.status_code == 202, r.text
    failed = await event_settled(http, r.json()["id"], within=30)
    assert failed["status"] == "FAILED" and failed["error"].startswith("custody.wallet_not_found"), failed
    assert failed["wallet_id"] is None


async def test_komainu_signatures_freshness_precision_loss_and_a_deposit(sync_stack, fakes):
    stack, http, komainu = sync_stack, sync_stack.http, fakes.komainu
    cid = await _custodian(http, "komainu", **komainu_config(komainu))
    opened: dict[str, str] = {}

    def open_wallet(facility_id: str) -> None:  # the operator opens the wallet at Komainu
        opened["id"] = komainu.add_wallet(f"CF {facility_id}", available="0")
        komainu.wallets[opened["id"]]["balance"]["balance_updated_at"] = _now_iso()

    facility, wid = await _facility_at(stack, cid, before_approval=open_wallet)
    fid, ext = facility["id"], opened["id"]
    assert await _external_id(stack.engine, wid) == ext

    body = komainu.notice(ext)
    stale = komainu.sign(body, timestamp=str(int(datetime.now(UTC).timestamp() * 1000) - 3_600_000))
    for headers in (komainu.sign(body, secret="forged"), {}, stale):
        r = await http.post("/webhooks/custodians/komainu", content=body, headers=headers)
        assert (r.status_code, r.json()["code"]) == (401, "custody.webhook_signature_invalid"), r.text

    # precision loss: "0.123456789" BTC is refused, the notice FAILED, nothing moves
    komainu.set_available(ext, "0.123456789")
    r = await http.post("/webhooks/custodians/komainu", content=body, headers=komainu.sign(body))
    assert r.status_code == 202, r.text
    failed = await event_settled(http, r.json()["id"])
    assert failed["status"] == "FAILED" and failed["error"].startswith("custody.precision_loss"), failed
    assert (await wallet_row(stack.engine, wid)).balance_sats is None
    assert await collateral_postings(stack.engine, fid) == []

    # "0.12345678" BTC = 12 345 678 sats: the pending facility activates
    komainu.set_available(ext, "0.12345678")
    headers = komainu.sign(body)
    r = await http.post("/webhooks/custodians/komainu", content=body, headers=headers)
    assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    done = await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b: b["status"] == "ACTIVE")
    assert done["collateral"] == 12_345_678
    assert await collateral_postings(stack.engine, fid) == [("ADD_COLLATERAL", 12_345_678)]
    # the same delivery again (same signature and timestamp) is a replay
    again = await http.post("/webhooks/custodians/komainu", content=body, headers=headers)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert await wallet_audits(stack.engine, wid) == ["system:komainu"]


def _tpub() -> str:
    return HDKey.from_seed(b"\x03" * 32, version=NETWORKS["test"]["xprv"]).derive("m/84h/1h/0h").to_public().to_string()


async def test_self_custody_poll_one_failing_wallet_never_stops_the_others(sync_stack, fakes):
    stack, http, esplora = sync_stack, sync_stack.http, fakes.esplora
    cid = await _custodian(http, "self-custody", account_xpub=_tpub(), network="testnet4")
    made = [await _facility_at(stack, cid) for _ in range(3)]
    facilities, wids = [f for f, _ in made], [w for _, w in made]
    addresses = [f["wallet"]["address"] for f in facilities]
    esplora.fund(addresses[0], 10_000_000)
    esplora.fund(addresses[1], funded=1, spent=2)  # negative: this wallet fails, the others go on
    esplora.fund(addresses[2], 20_000_000, spent=5_000_000)  # confirmed balance 0.15 BTC

    async def poll(run: str) -> dict:
        return await stack.client.execute_workflow(
            SelfCustodyPollWorkflow.run, {"page_size": 2}, id=f"poll-{run}", task_queue=stack.settings.temporal_task_queue,
            result_type=dict)

    result = await poll("1")
    assert (result["checked"], result["changed"], result["failures"]) == (3, 2, 1)
    assert list(result["failed"]) == [wids[1]]
    for f, sats in ((facilities[0], 10_000_000), (facilities[2], 15_000_000)):
        body = await wait_for(lambda f=f: http.get(f"{API}/credit-facilities/{f['id']}"), lambda b: b["status"] == "ACTIVE")
        assert body["collateral"] == sats
        assert await collateral_postings(stack.engine, f["id"]) == [("ADD_COLLATERAL", sats)]
    assert await wallet_audits(stack.engine, wids[0]) == ["system:custodian-sync"]
    assert await collateral_postings(stack.engine, facilities[1]["id"]) == []
    # a second pass finds no difference: nothing signalled, no audit row (§6 spec rule)
    result = await poll("2")
    assert (result["checked"], result["changed"], result["failures"]) == (3, 0, 1)
    assert await wallet_audits(stack.engine, wids[0]) == ["system:custodian-sync"]
