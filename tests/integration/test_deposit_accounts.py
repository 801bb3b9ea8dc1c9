"""Deposit accounts and deposits through the API with the worker running."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.integration.deposits_helpers import (
    API,
    balance,
    deposit,
    ledger_counts,
    omnibus_settled,
    open_account,
    verified_customer,
)


async def test_open_account_rules(stack):
    r = await stack.http.post(f"{API}/customers", json={
        "email": "new@example.com", "telegram_handle": "newbie", "customer_type": "Individual"})
    unverified = r.json()["id"]
    r = await stack.http.post(f"{API}/deposit-accounts", json={"customer_id": unverified})
    assert r.status_code == 422 and r.json()["code"] == "customer.not_verified", r.text
    r = await stack.http.post(f"{API}/deposit-accounts", json={"customer_id": str(uuid.uuid4())})
    assert r.status_code == 404
    foreign = await verified_customer(stack, "ForeignAgencyOrSubsidiary")
    r = await stack.http.post(f"{API}/deposit-accounts", json={"customer_id": foreign})
    assert r.status_code == 422 and r.json()["code"] == "deposit.unsupported_customer_type_for_deposit"

    cid = await verified_customer(stack, "Bank")
    headers = {"Idempotency-Key": "open-1"}
    first = await stack.http.post(f"{API}/deposit-accounts", json={"customer_id": cid}, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "ACTIVE" and body["account_holder_id"] == cid and int(body["public_id"]) >= 1000
    again = await stack.http.post(f"{API}/deposit-accounts", json={"customer_id": cid}, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    dup = await stack.http.post(f"{API}/deposit-accounts", json={"customer_id": cid})
    assert dup.status_code == 409 and dup.json()["code"] == "deposit.deposit_account_already_exists"
    assert (await stack.http.get(f"{API}/customers/{cid}/deposit-account")).json()["id"] == body["id"]
    by_pid = await stack.http.get(f"{API}/deposit-accounts/by-public-id/{body['public_id']}")
    assert by_pid.json()["id"] == body["id"]
    # the ledger accounts sit in the product sets the accounting module maps to the chart
    async with stack.engine.connect() as conn:
        sets = (await conn.execute(text(
            "SELECT s.external_id FROM ledger_set_members m JOIN ledger_account_sets s ON s.id = m.set_id"
            " WHERE m.member_account_id IN (CAST(:a AS uuid), CAST(:f AS uuid)) ORDER BY 1"),
            {"a": body["id"], "f": body["frozen_ledger_account_id"]})).scalars().all()
    assert sets == ["product:deposit.accounts.bank", "product:deposit.frozen.bank"]


async def test_deposit_is_posted_at_once_idempotent_by_reference_and_revertible(stack):
    acct = await open_account(stack)
    r = await deposit(stack, acct, 150_00, reference="wire-1")
    assert r.status_code == 201, r.text
    dep = r.json()
    assert dep["status"] == "CONFIRMED" and dep["amount"] == 150_00
    assert await balance(stack, acct) == {"currency": "USD", "settled": 150_00, "pending": 0,
                                          "available": 150_00, "frozen": 0}
    again = await deposit(stack, acct, 150_00, reference="wire-1")
    assert again.status_code == 200 and again.json()["id"] == dep["id"]
    clash = await deposit(stack, acct, 99_00, reference="wire-1")
    assert clash.status_code == 409 and clash.json()["code"] == "deposit.reference_taken"
    for bad in (0, -5, 1.5, "10"):
        r = await deposit(stack, acct, bad)
        assert r.status_code == 422, (bad, r.text)
    assert (await ledger_counts(stack.engine, acct))["templates"] == {"RECORD_DEPOSIT": 1}

    r = await stack.http.post(f"{API}/deposits/{dep['id']}/revert")
    assert r.status_code == 200 and r.json()["status"] == "REVERTED"
    r = await stack.http.post(f"{API}/deposits/{dep['id']}/revert")  # idempotent
    assert r.status_code == 200 and r.json()["status"] == "REVERTED"
    assert (await balance(stack, acct))["settled"] == 0
    assert (await ledger_counts(stack.engine, acct))["templates"] == {"RECORD_DEPOSIT": 1, "REVERT_DEPOSIT": 1}
    assert await omnibus_settled(stack.engine) == 0
    listed = (await stack.http.get(f"{API}/deposit-accounts/{acct}/deposits")).json()["items"]
    assert [d["id"] for d in listed] == [dep["id"]]


async def test_revert_of_spent_deposit_is_refused(stack):
    acct = await open_account(stack)
    first = (await deposit(stack, acct, 100_00)).json()
    await deposit(stack, acct, 10_00)
    async with stack.engine.begin() as conn:  # spend most of it: reserve 50 via a withdrawal posting
        from activities.deposits.operations import initiate_withdrawal
        await initiate_withdrawal(conn, str(uuid.uuid4()), acct, 50_00, None, "user:test")
    r = await stack.http.post(f"{API}/deposits/{first['id']}/revert")
    assert r.status_code == 422 and r.json()["code"] == "deposit.insufficient_funds", r.text
    assert (await stack.http.get(f"{API}/deposits/{first['id']}")).json()["status"] == "CONFIRMED"


async def test_history_is_paginated_newest_first(stack):
    acct = await open_account(stack)
    for i in range(5):
        await deposit(stack, acct, (i + 1) * 100)
    seen, after = [], None
    while True:
        params = {"first": 2} | ({"after": after} if after else {})
        page = (await stack.http.get(f"{API}/deposit-accounts/{acct}/history", params=params)).json()
        seen += page["items"]
        after = page["next_cursor"]
        if after is None:
            break
    assert [e["amount"] for e in seen] == [500, 400, 300, 200, 100]
    assert {e["entry_type"] for e in seen} == {"RECORD_DEPOSIT_CR"}


async def test_freeze_unfreeze_close(stack):
    acct = await open_account(stack)
    dep = (await deposit(stack, acct, 80_00)).json()
    r = await stack.http.post(f"{API}/deposit-accounts/{acct}/freeze")
    assert r.status_code == 200 and r.json()["status"] == "FROZEN"
    assert await balance(stack, acct) == {"currency": "USD", "settled": 80_00, "pending": 0, "available": 0,
                                          "frozen": 80_00}
    assert (await stack.http.post(f"{API}/deposit-accounts/{acct}/freeze")).json()["status"] == "FROZEN"
    for call, code in ((deposit(stack, acct, 1_00), "deposit.deposit_account_frozen"),
                       (stack.http.post(f"{API}/deposits/{dep['id']}/revert"), "deposit.deposit_account_frozen"),
                       (stack.http.post(f"{API}/withdrawals", json={"deposit_account_id": acct, "amount": 1}),
                        "deposit.deposit_account_frozen"),
                       (stack.http.post(f"{API}/deposit-accounts/{acct}/close"),
                        "deposit.cannot_update_frozen_account")):
        r = await call
        assert r.status_code == 409 and r.json()["code"] == code, r.text
        assert "FROZEN" in r.json()["detail"]
    assert (await ledger_counts(stack.engine, acct))["templates"] == {"RECORD_DEPOSIT": 1, "FREEZE_ACCOUNT": 1}

    r = await stack.http.post(f"{API}/deposit-accounts/{acct}/unfreeze")
    assert r.status_code == 200 and r.json()["status"] == "ACTIVE"
    assert (await balance(stack, acct))["available"] == 80_00
    r = await stack.http.post(f"{API}/deposit-accounts/{acct}/close")
    assert r.status_code == 422 and r.json()["code"] == "deposit.balance_is_not_zero"
    assert (await stack.http.post(f"{API}/deposits/{dep['id']}/revert")).status_code == 200
    r = await stack.http.post(f"{API}/deposit-accounts/{acct}/close")
    assert r.status_code == 200 and r.json()["status"] == "CLOSED"
    assert (await stack.http.post(f"{API}/deposit-accounts/{acct}/close")).json()["status"] == "CLOSED"
    for call, code in ((deposit(stack, acct, 1_00), "deposit.deposit_account_closed"),
                       (stack.http.post(f"{API}/deposit-accounts/{acct}/freeze"),
                        "deposit.cannot_update_closed_account"),
                       (stack.http.post(f"{API}/deposit-accounts/{acct}/unfreeze"),
                        "deposit.cannot_update_closed_account")):
        r = await call
        assert r.status_code == 409 and r.json()["code"] == code, r.text
        assert "CLOSED" in r.json()["detail"]
    listed = (await stack.http.get(f"{API}/deposit-accounts", params={"status": "CLOSED"})).json()["items"]
    assert [a["id"] for a in listed] == [acct]


async def test_viewer_cannot_freeze(stack):
    acct = await open_account(stack)
    viewer = await stack.client_for("acc@bank.test", "accountant")
    r = await viewer.post(f"{API}/deposit-accounts/{acct}/freeze")
    assert r.status_code == 403
    assert (await stack.http.get(f"{API}/deposit-accounts/{acct}")).json()["status"] == "ACTIVE"


async def test_kyc_red_freezes_and_green_unfreezes_accounts_through_the_webhook(db_url, engine, ts_env):
    from tests.integration.customers_helpers import create_customer, customer_stack, deliver, review

    async with customer_stack(db_url, engine, ts_env.client) as cstack:
        cid = (await create_customer(cstack.http))["id"]
        await deliver(cstack, cid, review(cid, "GREEN", created_at="2026-01-01 09:00:00.000"))
        acct = await open_account(cstack, cid)
        await deposit(cstack, acct, 42_00)
        await deliver(cstack, cid, review(cid, "RED", created_at="2026-01-02 09:00:00.000"))
        body = (await cstack.http.get(f"{API}/deposit-accounts/{acct}")).json()
        assert body["status"] == "FROZEN"
        assert (await balance(cstack, acct))["frozen"] == 42_00
        r = await deposit(cstack, acct, 1_00)
        assert r.status_code == 409 and r.json()["code"] == "deposit.deposit_account_frozen"
        await deliver(cstack, cid, review(cid, "GREEN", created_at="2026-01-03 09:00:00.000"))
        assert (await cstack.http.get(f"{API}/deposit-accounts/{acct}")).json()["status"] == "ACTIVE"
        assert (await balance(cstack, acct))["available"] == 42_00
        audit = (await cstack.http.get(f"{API}/audit-entries",
                                       params={"subject": "system:customer-sync"})).json()["items"]
        assert sorted(e["action"] for e in audit) == ["deposit:deposit-account:freeze",
                                                      "deposit:deposit-account:unfreeze"]
