"""Custodians through the API (api-surface §9): create with verification, encrypted storage,
write-only secrets, list/sort, config update, and the wallet a facility gets at approval."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.credit_fixtures import terms_json
from tests.fakes.komainu import new_p256_pem
from tests.integration.credit.facility_helpers import PRICE, customer_with_deposit, set_price, wait_for
from tests.integration.custody.test_adapters import BIP84_ZPUB, bitgo_config, komainu_config

NIL = "00000000-0000-0000-0000-000000000000"


async def _create(http, provider: str, name: str, **fields):
    return await http.post("/api/v1/custodians", json={"provider": provider, "name": name, **fields},
                           headers={"Idempotency-Key": uuid.uuid4().hex})


async def test_custodians_are_verified_stored_encrypted_and_never_returned(custody_stack, fakes):
    http = custody_stack.http
    bitgo = await _create(http, "bitgo", "BitGo", **bitgo_config(fakes.bitgo))
    assert bitgo.status_code == 201, bitgo.text
    assert bitgo.json()["provider"] == "BITGO" and bitgo.headers["location"].endswith(bitgo.json()["id"])
    assert "GET /api/v2/enterprise/ent-1" in fakes.bitgo.calls  # verify_client ran against the provider
    komainu = await _create(http, "komainu", "Komainu", **komainu_config(fakes.komainu))
    assert komainu.status_code == 201, komainu.text
    selfc = await _create(http, "self_custody", "Cold storage", account_xpub=BIP84_ZPUB, network="mainnet")
    assert selfc.status_code == 201, selfc.text
    manual = await _create(http, "Manual", "Operators")
    assert manual.status_code == 201, manual.text

    # one per provider, names unique; the mock is never created through the API
    again = await _create(http, "bitgo", "BitGo 2", **bitgo_config(fakes.bitgo))
    assert (again.status_code, again.json()["code"]) == (409, "custody.custodian_already_exists")
    mock = await _create(http, "mock", "Mocky")
    assert mock.status_code == 422

    # nothing secret in any response or in the stored row
    listed = await http.get("/api/v1/custodians", params={"sort": "name", "direction": "asc"})
    assert [c["name"] for c in listed.json()["items"]] == ["BitGo", "Cold storage", "Komainu", "Operators"]
    page = await http.get("/api/v1/custodians", params={"first": 2})
    assert [c["name"] for c in page.json()["items"]] == ["Operators", "Cold storage"]
    rest = await http.get("/api/v1/custodians", params={"first": 2, "after": page.json()["next_cursor"]})
    assert [c["name"] for c in rest.json()["items"]] == ["Komainu", "BitGo"]
    one = await http.get(f"/api/v1/custodians/{komainu.json()['id']}")
    texts = bitgo.text + komainu.text + listed.text + one.text
    for secret in ("bitgo-token", "pass phrase", "komainu-secret", "komainu-webhook-secret", "PRIVATE KEY"):
        assert secret not in texts
    async with custody_stack.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT encrypted_config::text, key_id FROM custody_custodians"))).all()
        events = (await conn.execute(text("SELECT payload::text FROM events WHERE entity_type = 'custodian'"))).all()
    blob = " ".join(r[0] for r in stored) + " ".join(r[0] for r in events)
    assert "bitgo-token" not in blob and "komainu-secret" not in blob and "ciphertext" in blob
    assert {r.key_id for r in stored} == {custody_stack.app.state.custody_keyring.current_id}

    # credentials that the provider refuses: nothing stored
    fakes.bitgo.token = "rotated-at-bitgo"
    async with custody_stack.engine.begin() as conn:
        await conn.execute(text("DELETE FROM custody_custodians WHERE provider = 'bitgo'"))
    refused = await _create(http, "bitgo", "BitGo", **bitgo_config(fakes.bitgo, long_lived_token="old"))
    assert (refused.status_code, refused.json()["code"]) == (502, "custody.provider_error")
    assert "old" not in refused.json()["detail"]
    names = [c["name"] for c in (await http.get("/api/v1/custodians")).json()["items"]]
    assert "BitGo" not in names


async def test_config_update_replaces_credentials_of_the_same_kind_only(custody_stack, fakes):
    http = custody_stack.http
    k = (await _create(http, "komainu", "Komainu", **komainu_config(fakes.komainu))).json()
    m = (await _create(http, "manual", "Manual")).json()
    url = f"/api/v1/custodians/{k['id']}/config"
    new_key = new_p256_pem()
    r = await http.put(url, json={**komainu_config(fakes.komainu, secret_key=new_key), "name": "ignored"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Komainu" and new_key not in r.text
    async with custody_stack.engine.connect() as conn:
        versions = (await conn.execute(text("SELECT count(*) FROM events WHERE entity_id = :id AND "
                                            "event_type = 'config_updated'"), {"id": k["id"]})).scalar_one()
    assert versions == 2
    same = await http.put(url, json=komainu_config(fakes.komainu, secret_key=new_key))  # identical: no event
    assert same.status_code == 200
    async with custody_stack.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM events WHERE entity_id = :id AND "
                                        "event_type = 'config_updated'"), {"id": k["id"]})).scalar_one() == 2
    wrong_kind = await http.put(url, json={"type": "bitgo", **bitgo_config(fakes.bitgo)})
    assert (wrong_kind.status_code, wrong_kind.json()["code"]) == (422, "custody.custodian_config_invalid")
    assert "bitgo-token" not in wrong_kind.text
    manual = await http.put(f"/api/v1/custodians/{m['id']}/config", json={})
    assert (manual.status_code, manual.json()["code"]) == (422, "custody.config_not_updatable")
    missing = await http.put(f"/api/v1/custodians/{uuid.uuid4()}/config", json={})
    assert (missing.status_code, missing.json()["code"]) == (404, "custody.custodian_not_found")


async def _proposal(stack, custodian_id: str | None):
    customer_id, _ = await customer_with_deposit(stack)
    body = {"customer_id": customer_id, "amount": 100_000, "terms": terms_json(customer_acceptance_required=False)}
    if custodian_id is not None:
        body["custodian_id"] = custodian_id
    return await stack.http.post("/api/v1/credit-facility-proposals", json=body)


async def test_a_proposal_naming_an_unknown_custodian_is_refused(custody_stack):
    r = await _proposal(custody_stack, str(uuid.uuid4()))
    assert (r.status_code, r.json()["code"]) == (404, "custody.custodian_not_found")


async def test_wallets_are_created_at_approval_and_shown_on_the_facility(custody_stack, fakes):
    stack, http = custody_stack, custody_stack.http
    await set_price(stack.engine, PRICE)
    selfc = (await _create(http, "self-custody", "Cold", account_xpub=BIP84_ZPUB, network="mainnet")).json()
    bitgo = (await _create(http, "bitgo", "BitGo", **bitgo_config(fakes.bitgo))).json()
    proposals = [(await _proposal(stack, cid)).json() for cid in (selfc["id"], selfc["id"], bitgo["id"], NIL, None)]
    assert all(p["wallet"] is None for p in proposals)
    pending = [await wait_for(lambda p=p: http.get(f"/api/v1/pending-credit-facilities/{p['id']}"),
                              lambda b: b["wallet"] is not None or b["custodian_id"] is None)
               for p in proposals]
    first, second, at_bitgo, at_mock, manual = (p["wallet"] for p in pending)
    # self-custody: child 0/0 and 0/1 of the account, never the same index twice
    assert (first["address"], second["address"]) == ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
                                                      "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g")
    assert first["network"] == "MAINNET" and first["provider"] == "SELF_CUSTODY"
    assert first["custodian_id"] == selfc["id"]
    assert at_bitgo["address"] == next(iter(fakes.bitgo.wallets.values()))["receiveAddress"]["address"]
    assert (at_mock["address"], at_mock["network"], at_mock["custodian_id"]) == ("bt1qaddressmock", "TESTNET4", NIL)
    assert manual is None
    listed = (await http.get("/api/v1/pending-credit-facilities", params={"first": 10})).json()["items"]
    assert {p["id"]: (p["wallet"] or {}).get("address") for p in listed}[proposals[0]["id"]] == first["address"]
    async with stack.engine.connect() as conn:
        index = (await conn.execute(text("SELECT next_receive_index FROM custody_custodians WHERE id = :id"),
                                    {"id": selfc["id"]})).scalar_one()
        rows = (await conn.execute(text("SELECT count(*) FROM custody_wallets"))).scalar_one()
        mock = (await conn.execute(text("SELECT name, provider FROM custody_custodians WHERE id = :id"),
                                   {"id": NIL})).one()
    assert (index, rows, tuple(mock)) == (2, 4, ("Mock Custodian", "mock"))
