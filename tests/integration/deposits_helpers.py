"""Shared helpers for the deposit tests: verified customers, accounts, deposits, balances, ledger counts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from activities.customers.repository import load_customer, save_customer
from activities.deposits.accounts import OMNIBUS_ID
from domain.customers.model import KycLevel, KycReview

API = "/api/v1"


async def verified_customer(stack, customer_type: str = "Individual") -> str:
    """Create a customer through the API and verify it through the customer module's own rule."""
    r = await stack.http.post(f"{API}/customers", json={
        "email": f"{uuid.uuid4().hex[:10]}@example.com", "telegram_handle": f"h{uuid.uuid4().hex[:10]}",
        "customer_type": customer_type})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    async with stack.engine.begin() as conn:
        c = await load_customer(conn, cid)
        c.apply_review(KycReview(f"ev-{cid}", True, "app-1", "basic-kyc-level", datetime.now(UTC)), KycLevel.BASIC)
        await save_customer(conn, c)
    return cid


async def open_account(stack, customer_id: str | None = None) -> str:
    customer_id = customer_id or await verified_customer(stack)
    r = await stack.http.post(f"{API}/deposit-accounts", json={"customer_id": customer_id})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def deposit(stack, account_id: str, amount: int, reference: str | None = None):
    body = {"deposit_account_id": account_id, "amount": amount}
    if reference:
        body["reference"] = reference
    return await stack.http.post(f"{API}/deposits", json=body)


async def withdraw(stack, account_id: str, amount: int, client=None, **extra):
    return await (client or stack.http).post(f"{API}/withdrawals", json={
        "deposit_account_id": account_id, "amount": amount, **extra})


async def balance(stack, account_id: str) -> dict:
    r = await stack.http.get(f"{API}/deposit-accounts/{account_id}/balance")
    assert r.status_code == 200, r.text
    return r.json()


async def wait_status(stack, withdrawal_id: str, status: str, wait_s: float = 20.0) -> dict:
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        body = (await stack.http.get(f"{API}/withdrawals/{withdrawal_id}")).json()
        if body["status"] == status:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"withdrawal {withdrawal_id} stuck in {body['status']}, wanted {status}")
        await asyncio.sleep(0.05)


async def ledger_counts(engine, account_id: str) -> dict:
    """Transactions per template touching the account, and its entry count (what 'exactly once' means)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT t.template_code, count(DISTINCT t.id) FROM ledger_entries e"
            " JOIN ledger_transactions t ON t.id = e.transaction_id WHERE e.account_id = :a"
            " GROUP BY t.template_code"), {"a": account_id})).all()
        entries = (await conn.execute(text("SELECT count(*) FROM ledger_entries WHERE account_id = :a"),
                                      {"a": account_id})).scalar_one()
    return {"templates": {r[0]: r[1] for r in rows}, "entries": entries}


async def omnibus_settled(engine) -> int:
    from activities import ledger

    async with engine.connect() as conn:
        return (await ledger.balance(conn, OMNIBUS_ID, "USD")).settled
