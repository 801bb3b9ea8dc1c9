"""Helpers for credit facility tests: price, customer with a deposit ledger account, proposals."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from activities.accounting import placement
from activities.credit.deposit_link import deposit_external_id
from activities.price import store
from domain.accounting.product_sets import CustomerType, deposit_accounts
from domain.price.model import PriceQuote, PriceSource
from tests.credit_fixtures import terms_json
from tests.integration.customers_helpers import create_customer

PRICE = 6_000_000  # $60,000.00 per BTC


async def set_price(engine, cents: int, *, age: timedelta = timedelta(0)) -> None:
    """Record a price observation through the store (what the feed workflow does); ``age`` then
    backdates the last confirmation (the feed stopped confirming it)."""
    async with engine.begin() as conn:
        await store.record_observation(conn, PriceQuote(usd_cents_per_btc=cents, source=PriceSource.FIXED,
                                                        observed_at=datetime.now(UTC)))
        if age:
            await conn.execute(store.price_latest.update().values(observed_at=datetime.now(UTC) - age))


async def customer_with_deposit(stack, customer_type: str = "Individual") -> tuple[str, uuid.UUID]:
    """A customer and its deposit ledger account (placed directly until the deposit module merges)."""
    customer = await create_customer(stack.http, customer_type)
    account_id = uuid.uuid4()
    async with stack.engine.begin() as conn:
        await placement.product_account(conn, deposit_accounts(CustomerType(customer_type)), account_id=account_id,
                                        code=str(account_id), name=f"Deposit Account {customer['id']}",
                                        external_id=deposit_external_id(customer["id"]), control="settled")
    return customer["id"], account_id


async def propose(http, customer_id: str, amount: int = 100_000, **terms):
    return await http.post("/api/v1/credit-facility-proposals",
                           json={"customer_id": customer_id, "amount": amount, "terms": terms_json(**terms)})


async def wait_for(fetch, predicate, *, within: float = 20.0):
    """Poll ``fetch()`` (an awaitable factory returning a response) until ``predicate(json)``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        r = await fetch()
        body = r.json()
        if r.status_code == 200 and predicate(body):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out; last: {r.status_code} {body}")
        await asyncio.sleep(0.05)


async def deposit_balance(stack, account_id: uuid.UUID) -> int:
    from activities import ledger

    async with stack.engine.connect() as conn:
        return (await ledger.balance(conn, account_id, "USD")).settled
