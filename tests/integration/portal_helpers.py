"""Shared by the portal and timeline tests: a customer with one of every entity a portal read shows."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from api.authn import issue_customer_dev_token
from tests.integration.credit.facility_helpers import active_facility
from tests.integration.deposits_helpers import deposit, withdraw

API = "/api/v1"
SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0"}


def customer_client(stack, token: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app), base_url="http://lana.test",
                               headers={"Authorization": f"Bearer {token}"})
    stack._clients.append(client)
    return client


async def customer_world(stack) -> dict:
    """A customer with an active facility (disbursed at activation), a payment, a deposit and a
    withdrawal: every kind of id a portal read can show. Returns its ids and a portal client."""
    http = stack.http
    fid, collateral_id, account_id = await active_facility(stack, 100_000, **SINGLE)
    facility = (await http.get(f"{API}/credit-facilities/{fid}")).json()
    pay = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 30_000})
    assert pay.status_code == 201, pay.text
    dep = await deposit(stack, str(account_id), 5_000)
    assert dep.status_code == 201, dep.text
    wd = await withdraw(stack, str(account_id), 1_000)
    assert wd.status_code == 201, wd.text
    [disbursal] = (await http.get(f"{API}/disbursals", params={"credit_facility_id": fid})).json()["items"]
    customer_id = facility["customer_id"]
    async with stack.engine.connect() as conn:
        obligation_ids = [str(r[0]) for r in await conn.execute(
            text("SELECT id FROM credit_obligations WHERE facility_id = :f"), {"f": fid})]
    ids = {"customer": customer_id, "facility": fid, "collateral": collateral_id, "account": str(account_id),
           "deposit": dep.json()["id"], "withdrawal": wd.json()["id"], "disbursal": disbursal["id"],
           "payment": pay.json()["id"], **{f"obligation{i}": o for i, o in enumerate(obligation_ids)}}
    token = issue_customer_dev_token(stack.settings, uuid.UUID(customer_id))
    return {"ids": ids, "client": customer_client(stack, token)}
