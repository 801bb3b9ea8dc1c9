"""Helpers of the custody sync tests: custodian and wallet rows (what part A's approval step
writes), webhooks through the HTTP endpoint, and reads of the ledger and audit rows."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from activities.custody.tables import custodians, wallets
from tests.integration.credit.facility_helpers import customer_with_deposit, propose, wait_for

API = "/api/v1"


async def custodian(engine, provider: str, config: dict | None = None) -> str:
    cid = str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(custodians.insert().values(
            id=cid, name=f"{provider}-{cid[:6]}", provider=provider, encrypted_config=config, next_receive_index=0,
            version=1, created_by="test"))
    return cid


async def wallet(engine, custodian_id: str, provider: str, facility: dict, external_id: str,
                 address: str = "bt1qaddressmock") -> str:
    wid = str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(wallets.insert().values(
            id=wid, custodian_id=custodian_id, provider=provider, facility_id=facility["id"],
            collateral_id=facility["collateral_id"], external_wallet_id=external_id, address=address,
            network="testnet4", custodian_response={}, version=0))
    return wid


async def pending_facility(stack, amount: int = 100_000, **terms) -> dict:
    customer_id, _ = await customer_with_deposit(stack)
    body = (await propose(stack.http, customer_id, amount, **terms)).json()
    await wait_for(lambda: stack.http.get(f"{API}/pending-credit-facilities/{body['id']}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    return body


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
