"""Issue 19 part B per provider, through the HTTP endpoint: the real BitGo / Komainu / self-custody
adapters (signing, parsing, balance re-reads) against local fakes of their HTTP APIs, into the
wallet's workflow, the facility and the ledger (custody-price-reports.md §1.7, §2, §6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from embit.bip32 import HDKey
from embit.networks import NETWORKS

from activities.custody.clients import client_for
from tests.fakes.bitgo import running_fake_bitgo
from tests.fakes.esplora import running_fake_esplora
from tests.fakes.komainu import running_fake_komainu
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
from workflows.custody_wallet import SelfCustodyPollWorkflow

SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0", "customer_acceptance_required": False}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _factory(configs: dict[str, dict]):
    """The adapters over the fakes: plaintext configs stand in for the decrypted ones."""
    def build(provider: str, _row, settings):
        return client_for(provider, configs[provider], settings)
    return build


@pytest.fixture
async def bitgo_stack(db_url, engine, ts_env):
    async with running_fake_bitgo() as fake:
        config = {"long_lived_token": fake.token, "enterprise_id": fake.enterprise_id, "passphrase": "pass phrase",
                  "testing_instance": True, "webhook_url": "https://lana.example/webhooks/custodians/bitgo",
                  "webhook_secret": fake.webhook_secret}
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, custody_bitgo_url=fake.url,
                               custody_wallet_idle_seconds=0, custody_unknown_wallet_attempts=2,
                               custody_clients=_factory({"bitgo": config})) as stack:
            yield stack, fake


async def _bitgo_wallet(stack, fake, facility, wallet_id: str = "w-bitgo-1") -> str:
    fake.wallets[wallet_id] = {"id": wallet_id, "label": f"CF {facility['id']}", "coin": "tbtc4",
                               "receiveAddress": {"address": "tb1qbitgo"}, "confirmedBalance": 0}
    return await wallet(stack.engine, await custodian(stack.engine, "bitgo", {"sealed": "by part A"}), "bitgo",
                        facility, wallet_id)


async def _bitgo_notify(http, fake, wallet_id: str, transfer: str, balance: int | None, *, headers=None):
    if balance is not None:
        fake.set_balance(wallet_id, balance)
        fake.set_transfer(wallet_id, transfer, confirmed_time=_now_iso())
    body = fake.notice(wallet_id, transfer)
    return await http.post("/webhooks/custodians/bitgo", content=body,
                           headers=fake.sign(body) if headers is None else headers)


async def test_bitgo_worked_example_signatures_replay_and_out_of_order(bitgo_stack):
    (stack, fake), http = bitgo_stack, bitgo_stack[0].http
    await set_price(stack.engine, PRICE)
    facility = await pending_facility(stack, 100_000, **SINGLE)
    fid = facility["id"]
    wid = await _bitgo_wallet(stack, fake, facility)

    # forged and missing signatures: 401 problem+json, audited, nothing stored
    body = fake.notice("w-bitgo-1", "t-0")
    forged = await http.post("/webhooks/custodians/bitgo", content=body, headers=fake.sign(body, "not-the-secret"))
    missing = await http.post("/webhooks/custodians/bitgo", content=body)
    for r in (forged, missing):
        assert (r.status_code, r.json()["code"]) == (401, "custody.webhook_signature_invalid"), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    async with stack.engine.connect() as conn:
        from sqlalchemy import text
        refused = (await conn.execute(text("SELECT count(*) FROM audit_entries WHERE subject = 'webhook:bitgo'"
                                           " AND NOT authorized"))).scalar()
        stored = (await conn.execute(text("SELECT count(*) FROM custody_inbox"))).scalar()
    assert (refused, stored) == (2, 0)
    # garbage, correctly signed: 422, nothing stored
    r = await http.post("/webhooks/custodians/bitgo", content=b"[]", headers=fake.sign(b"[]"))
    assert (r.status_code, r.json()["code"]) == (422, "custody.webhook_payload_invalid"), r.text

    # §1.7 worked example: collateral 1 BTC first (a deposit that also activates the facility) …
    r = await _bitgo_notify(http, fake, "w-bitgo-1", "t-1", 100_000_000)
    assert r.status_code == 202, r.text
    assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b: b["status"] == "ACTIVE")
    # … 1.5 BTC: Add 0.5 BTC; 1.2 BTC: Remove 0.3 BTC
    for transfer, sats in (("t-2", 150_000_000), ("t-3", 120_000_000)):
        r = await _bitgo_notify(http, fake, "w-bitgo-1", transfer, sats)
        assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
        await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b, s=sats: b["collateral"] == s)
    expected = [("ADD_COLLATERAL", 100_000_000), ("ADD_COLLATERAL", 50_000_000), ("REMOVE_COLLATERAL", 30_000_000)]
    assert await collateral_postings(stack.engine, fid) == expected
    # 1.2 BTC again: no wallet event, no posting, one more audit row
    audits = await wallet_audits(stack.engine, wid)
    version = (await wallet_row(stack.engine, wid)).version
    r = await _bitgo_notify(http, fake, "w-bitgo-1", "t-4", 120_000_000)
    assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    assert await wallet_audits(stack.engine, wid) == [*audits, "system:bitgo"]
    assert (await wallet_row(stack.engine, wid)).version == version
    assert await collateral_postings(stack.engine, fid) == expected

    # replayed: 200, the stored id, nothing new
    again = await _bitgo_notify(http, fake, "w-bitgo-1", "t-4", None)
    assert (again.status_code, again.json()["id"], again.json()["replayed"]) == (200, r.json()["id"], True)
    # out of order: the late notice of an old transfer re-reads the current balance (nothing moves) …
    fake.set_balance("w-bitgo-1", 110_000_000)
    fake.set_transfer("w-bitgo-1", "t-6", confirmed_time=_now_iso())
    fake.set_transfer("w-bitgo-1", "t-5", confirmed_time=_now_iso())
    for transfer in ("t-6", "t-5"):  # t-6 delivered first, then the older t-5: both read 1.1 BTC
        body = fake.notice("w-bitgo-1", transfer)
        r = await http.post("/webhooks/custodians/bitgo", content=body, headers=fake.sign(body))
        assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED"
    await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"), lambda b: b["collateral"] == 110_000_000)
    assert await collateral_postings(stack.engine, fid) == [*expected, ("REMOVE_COLLATERAL", 10_000_000)]

    # an unknown wallet: bounded retries, then FAILED with the reason
    fake.wallets["w-nobody"] = {"id": "w-nobody", "confirmedBalance": 5}
    fake.set_transfer("w-nobody", "t-9")
    body = fake.notice("w-nobody", "t-9")
    r = await http.post("/webhooks/custodians/bitgo", content=body, headers=fake.sign(body))
    failed = await event_settled(http, r.json()["id"], within=30)
    assert failed["status"] == "FAILED" and failed["error"].startswith("custody.wallet_not_found"), failed


@pytest.fixture
async def komainu_stack(db_url, engine, ts_env):
    async with running_fake_komainu() as fake:
        config = {"api_key": fake.api_key, "api_secret": fake.api_secret, "testing_instance": True,
                  "secret_key": fake.secret_key, "webhook_secret": fake.webhook_secret}
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, custody_komainu_url=fake.url,
                               custody_wallet_idle_seconds=0, custody_unknown_wallet_attempts=2,
                               custody_clients=_factory({"komainu": config})) as stack:
            yield stack, fake


async def test_komainu_signatures_freshness_precision_loss_and_a_deposit(komainu_stack):
    (stack, fake), http = komainu_stack, komainu_stack[0].http
    await set_price(stack.engine, PRICE)
    facility = await pending_facility(stack, 100_000, **SINGLE)
    fid = facility["id"]
    ext = fake.add_wallet(f"CF {fid}", available="0")
    fake.wallets[ext]["balance"]["balance_updated_at"] = _now_iso()
    wid = await wallet(stack.engine, await custodian(stack.engine, "komainu", {"sealed": "by part A"}), "komainu",
                       facility, ext)

    body = fake.notice(ext)
    stale = fake.sign(body, timestamp=str(int(datetime.now(UTC).timestamp() * 1000) - 3_600_000))
    for headers in (fake.sign(body, secret="forged"), {}, stale):
        r = await http.post("/webhooks/custodians/komainu", content=body, headers=headers)
        assert (r.status_code, r.json()["code"]) == (401, "custody.webhook_signature_invalid"), r.text

    # precision loss: "0.123456789" BTC is refused, the notice FAILED, nothing moves
    fake.set_available(ext, "0.123456789")
    r = await http.post("/webhooks/custodians/komainu", content=body, headers=fake.sign(body))
    assert r.status_code == 202, r.text
    failed = await event_settled(http, r.json()["id"])
    assert failed["status"] == "FAILED" and failed["error"].startswith("custody.precision_loss"), failed
    assert (await wallet_row(stack.engine, wid)).balance_sats is None

    # "0.12345678" BTC = 12 345 678 sats: the pending facility activates
    fake.set_available(ext, "0.12345678")
    headers = fake.sign(body)
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


async def test_self_custody_poll_one_failing_wallet_never_stops_the_others(db_url, engine, ts_env):
    async with running_fake_esplora() as esplora:
        good = {"account_xpub": _tpub(), "network": "testnet4"}
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, custody_wallet_idle_seconds=0,
                               custody_esplora_urls={"testnet4": esplora.url}, custody_poll_page_size=2,
                               custody_clients=_factory({"self-custody": good})) as stack:
            await set_price(stack.engine, PRICE)
            cid = await custodian(stack.engine, "self-custody")
            facilities = [await pending_facility(stack, 100_000, **SINGLE) for _ in range(3)]
            wids = [await wallet(stack.engine, cid, "self-custody", f, f"self-custody:{i}", address=f"tb1qaddr{i}")
                    for i, f in enumerate(facilities)]
            esplora.fund("tb1qaddr0", 10_000_000)
            esplora.fund("tb1qaddr1", funded=1, spent=2)  # negative: InvalidEsploraBalance
            esplora.fund("tb1qaddr2", 20_000_000, spent=5_000_000)

            result = await stack.client.execute_workflow(
                SelfCustodyPollWorkflow.run, {"page_size": 2}, id="poll-1", task_queue=stack.settings.temporal_task_queue,
                result_type=dict)
            assert (result["checked"], result["changed"], result["failures"]) == (3, 2, 1)
            assert list(result["failed"]) == [wids[1]]
            for f, sats in ((facilities[0], 10_000_000), (facilities[2], 15_000_000)):
                body = await wait_for(lambda f=f: stack.http.get(f"{API}/credit-facilities/{f['id']}"),
                                      lambda b: b["status"] == "ACTIVE")
                assert body["collateral"] == sats
                assert await collateral_postings(stack.engine, f["id"]) == [("ADD_COLLATERAL", sats)]
            assert await wallet_audits(stack.engine, wids[0]) == ["system:custodian-sync"]
            # a second pass finds no difference: nothing signalled, no audit row
            result = await stack.client.execute_workflow(
                SelfCustodyPollWorkflow.run, {"page_size": 2}, id="poll-2", task_queue=stack.settings.temporal_task_queue,
                result_type=dict)
            assert (result["checked"], result["changed"]) == (3, 0)
            assert await wallet_audits(stack.engine, wids[0]) == ["system:custodian-sync"]
