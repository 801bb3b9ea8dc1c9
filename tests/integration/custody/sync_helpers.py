"""Helpers of the custody sync tests: facilities at the mock custodian, and reads of the ledger,
audit and wallet rows."""

from __future__ import annotations

from sqlalchemy import text

from activities.custody.tables import wallets
from domain.custody.model import MOCK_CUSTODIAN_ID
from tests.credit_fixtures import terms_json
from tests.integration.credit.facility_helpers import customer_with_deposit, wait_for

API = "/api/v1"
TERMS = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0", "customer_acceptance_required": False}


async def mock_facility(stack, amount: int = 100_000) -> tuple[dict, str]:
    """A pending facility whose proposal named the mock custodian (nil id, §1.6): its wallet ``123``
    is created at approval. Returns the pending facility and the wallet id."""
    customer_id, _ = await customer_with_deposit(stack)
    r = await stack.http.post(f"{API}/credit-facility-proposals", json={
        "customer_id": customer_id, "amount": amount, "terms": terms_json(**TERMS), "custodian_id": MOCK_CUSTODIAN_ID})
    assert r.status_code == 201, r.text
    pending = await wait_for(lambda: stack.http.get(f"{API}/pending-credit-facilities/{r.json()['id']}"),
                             lambda b: b["wallet"] is not None and b["pending_status"] == "PENDING_COLLATERALIZATION")
    return pending, pending["wallet"]["wallet_id"]


async def collateral_postings(engine, facility_id: str) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        return [(r.template_code, r.units) for r in await conn.execute(text(
            "SELECT t.template_code, e.units FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id"
            " WHERE t.template_code IN ('ADD_COLLATERAL', 'REMOVE_COLLATERAL') AND e.direction = 'debit'"
            " AND t.idempotency_key LIKE :k ORDER BY t.recorded_at, t.idempotency_key"), {"k": f"collateral:{facility_id}:%"})]


async def wallet_audits(engine, wallet_id: str) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT subject FROM audit_entries WHERE object = :o AND action = 'custody:wallet:update' ORDER BY id"),
            {"o": f"custody/wallet/{wallet_id}"})).scalars())


async def wallet_row(engine, wallet_id: str):
    async with engine.connect() as conn:
        return (await conn.execute(wallets.select().where(wallets.c.id == wallet_id))).one()


async def event_settled(http, event_id: str, *, within: float = 20.0) -> dict:
    return await wait_for(lambda: http.get(f"{API}/custodian-webhook-events/{event_id}"),
                          lambda b: b["status"] != "PENDING", within=within)
