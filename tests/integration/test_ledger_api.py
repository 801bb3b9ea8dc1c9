"""Ledger read API over HTTP (real app, real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest

from activities import ledger
from tests.integration.ledger_helpers import make_account, make_set


@pytest.fixture
async def http(stack):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app), base_url="http://lana.test/api/v1",
                                 headers=dict(stack.http.headers)) as client:
        yield client


async def test_account_balances_entries_sets_and_transactions(http, engine):
    omni = await make_account(engine, "debit", name="Deposit omnibus")
    cust = await make_account(engine, "credit", control="settled")
    chart = await make_set(engine, "credit", [cust])
    p = {"deposit_omnibus_account_id": omni, "credit_account_id": cust}
    txs = []
    for i, amount in enumerate([1_000, 2_000, 3_000]):
        txs.append(await ledger.post(engine, "RECORD_DEPOSIT", {**p, "amount": amount}, idempotency_key=f"d{i}",
                                     effective=dt.date(2026, 3, 1 + i)))

    r = await http.get(f"/ledger-accounts/{cust}")
    assert r.status_code == 200
    body = r.json()
    assert body["balance_control"] == "SETTLED"
    assert {b["currency"]: b["settled"] for b in body["balances"]} == {"USD": 6_000, "BTC": 0}

    r = await http.get(f"/ledger-accounts/{cust}/balances", params={"as_of": txs[0].recorded_at.isoformat()})
    assert {b["currency"]: b["settled"] for b in r.json()["balances"]}["USD"] == 1_000

    r = await http.get(f"/ledger-accounts/{cust}/balances", params={"from": "2026-03-02", "until": "2026-03-02"})
    (usd,) = r.json()["ranges"]
    assert (usd["open"]["settled"], usd["close"]["settled"], usd["period"]["settled"]["credits"]) == (1_000, 3_000, 2_000)

    r = await http.get(f"/ledger-accounts/{cust}/entries", params={"first": 2})
    page = r.json()
    assert [e["units"] for e in page["items"]] == [3_000, 2_000] and page["next_cursor"]
    r = await http.get(f"/ledger-accounts/{cust}/entries", params={"first": 2, "after": page["next_cursor"]})
    assert [e["units"] for e in r.json()["items"]] == [1_000] and r.json()["next_cursor"] is None

    r = await http.get(f"/ledger-account-sets/{chart}")
    body = r.json()
    assert [m["id"] for m in body["members"]] == [str(cust)]
    assert {b["currency"]: b["settled"] for b in body["balances"]}["USD"] == 6_000
    r = await http.get(f"/ledger-account-sets/{chart}/balances", params={"from": "2026-03-03"})
    assert r.json()["ranges"][0]["period"]["settled"]["credits"] == 3_000

    r = await http.get(f"/ledger-transactions/{txs[1].id}")
    assert r.status_code == 200
    assert [(e["entry_type"], e["units"]) for e in r.json()["entries"]] == [
        ("RECORD_DEPOSIT_DR", 2_000), ("RECORD_DEPOSIT_CR", 2_000)]


async def test_not_found_and_bad_input_are_problems(http):
    missing = uuid.uuid4()
    for path, code in [(f"/ledger-accounts/{missing}", "ledger.account_not_found"),
                       (f"/ledger-account-sets/{missing}", "ledger.account_set_not_found"),
                       (f"/ledger-transactions/{missing}", "ledger.transaction_not_found")]:
        r = await http.get(path)
        assert r.status_code == 404 and r.json()["code"] == code
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await http.get(f"/ledger-accounts/{missing}/entries", params={"after": "garbage!"})
    assert r.status_code == 422
    r = await http.get("/ledger-accounts/not-a-uuid")
    assert r.status_code == 422
