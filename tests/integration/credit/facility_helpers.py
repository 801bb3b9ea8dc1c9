"""Helpers for credit facility tests: price, customer with a deposit ledger account, proposals."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from activities.accounting import placement
from activities.price import store
from api.enums import normalize
from domain.accounting.product_sets import CustomerType, deposit_accounts
from domain.price.model import PriceQuote, PriceSource
from tests.credit_fixtures import terms_json
from tests.integration.customers_helpers import create_customer
from tests.integration.deposits_helpers import verified_customer

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
    """A KYC-verified customer with a deposit account opened through the API; returns the customer id
    and the account id (which is also its main ledger account id)."""
    customer_id = await verified_customer(stack, customer_type)
    r = await stack.http.post("/api/v1/deposit-accounts", json={"customer_id": customer_id})
    assert r.status_code == 201, r.text
    return customer_id, uuid.UUID(r.json()["id"])


async def unverified_customer_with_ledger_deposit(stack) -> str:
    """A customer still pending KYC whose deposit ledger account exists (placed directly): only
    for checking that the credit module itself enforces verification."""
    customer = await create_customer(stack.http, "Individual")
    account_id = uuid.uuid4()
    async with stack.engine.begin() as conn:
        await placement.product_account(conn, deposit_accounts(CustomerType.INDIVIDUAL), account_id=account_id,
                                        code=str(account_id), name=f"Deposit Account {customer['id']}",
                                        control="settled")
    return customer["id"]


async def propose(http, customer_id: str, amount: int = 100_000, *, accept: bool = True, **terms):
    """Create a proposal (the creation's response). Its terms ask for the customer's acceptance by
    default (``customer_acceptance_required=False`` turns the step off), and the customer then
    accepts it unless ``accept`` is False, so governance approval follows as before."""
    r = await http.post("/api/v1/credit-facility-proposals",
                        json={"customer_id": customer_id, "amount": amount, "terms": terms_json(**terms)})
    if accept and r.status_code == 201 and r.json()["proposal_status"] == "PENDING_CUSTOMER_APPROVAL":
        d = await customer_decision(http, r.json()["id"], True)
        assert d.status_code == 200, d.text
    return r


async def customer_decision(http, facility_id: str, approved: bool):
    return await http.post(f"/api/v1/credit-facility-proposals/{facility_id}/customer-decision",
                           json={"approved": approved})


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


async def committee(stack, process_type):
    """A one-member committee for ``process_type``; returns that member's API client."""
    voter = await stack.client_for(f"v-{uuid.uuid4().hex[:6]}@bank.test", "bank-manager")
    voter_id = (await voter.get("/api/v1/me")).json()["user"]["id"]
    http = stack.http
    r = await http.post("/api/v1/committees", json={"name": f"c-{uuid.uuid4().hex[:6]}", "member_user_ids": [voter_id]})
    assert r.status_code == 201, r.text
    pid = next(p["id"] for p in (await http.get("/api/v1/policies")).json()["items"]
               if p["process_type"] == normalize(process_type))
    r = await http.put(f"/api/v1/policies/{pid}/rules",
                       json={"type": "committee", "committee_id": r.json()["id"], "threshold": 1})
    assert r.status_code == 200, r.text
    return voter


async def vote(voter, process_id, approve=True):
    await wait_for(lambda: voter.get(f"/api/v1/approval-processes/{process_id}"), lambda b: True)
    for _ in range(200):  # the approval workflow (child) may still be starting
        r = await (voter.post(f"/api/v1/approval-processes/{process_id}/approve") if approve else
                   voter.post(f"/api/v1/approval-processes/{process_id}/deny", json={"reason": "too risky"}))
        if r.status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(r.text)


async def active_facility(stack, amount=100_000, **terms):
    customer_id, deposit = await customer_with_deposit(stack)
    body = (await propose(stack.http, customer_id, amount, **terms)).json()
    await wait_for(lambda: stack.http.get(f"/api/v1/pending-credit-facilities/{body['id']}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await stack.http.post(f"/api/v1/collaterals/{body['collateral_id']}/manual-update",
                              json={"collateral": 10_000_000})  # 0.1 BTC = $6,000 at $60,000
    assert r.json()["status"] == "ACTIVE", r.text
    return body["id"], body["collateral_id"], deposit


async def deposit_balance(stack, account_id: uuid.UUID) -> int:
    from activities import ledger

    async with stack.engine.connect() as conn:
        return (await ledger.balance(conn, account_id, "USD")).settled
