"""Eligibility (credit.md §4.1, §5.1; issue 14 item 2): a proposal needs an active deposit account,
a disbursal a KYC-verified customer whose deposit account is still active; refused with a clear
code and nothing written. Through the API with the worker."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from activities.credit.tables import disbursals, facilities
from activities.customers.repository import load_customer, save_customer
from domain.customers.model import KycReview
from tests.harness import Stack
from tests.integration.credit.facility_helpers import (
    PRICE,
    active_facility,
    customer_with_deposit,
    propose,
    set_price,
)


@pytest.fixture
async def kyc_stack(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=True) as stack:
        yield stack


async def _count(stack, table, **where) -> int:
    async with stack.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(
            *[table.c[k] == v for k, v in where.items()]))).scalar_one()


async def _reject_kyc(stack, customer_id: str) -> None:
    """A KYC rejection recorded by the customer module's own rule (its deposit side effect aside)."""
    async with stack.engine.begin() as conn:
        c = await load_customer(conn, customer_id)
        c.apply_review(KycReview(f"rej-{customer_id}", False, "app-1", "basic-kyc-level", datetime.now(UTC)), None)
        await save_customer(conn, c)


@pytest.mark.parametrize("action", ["freeze", "close"])
async def test_proposal_refused_on_a_frozen_or_closed_deposit_account(kyc_stack, action):
    stack = kyc_stack
    customer_id, deposit = await customer_with_deposit(stack)
    r = await stack.http.post(f"/api/v1/deposit-accounts/{deposit}/{action}")
    assert r.status_code == 200, r.text
    r = await propose(stack.http, customer_id)
    assert r.status_code == 409 and r.json()["code"] == "credit.deposit_account_not_active", r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["deposit_account_status"] == ("FROZEN" if action == "freeze" else "CLOSED")
    assert await _count(stack, facilities, customer_id=customer_id) == 0


async def test_disbursal_refused_once_the_deposit_account_is_frozen(kyc_stack):
    stack = kyc_stack
    await set_price(stack.engine, PRICE)
    fid, _, deposit = await active_facility(stack, one_time_fee_rate="0")
    assert (await stack.http.post(f"/api/v1/deposit-accounts/{deposit}/freeze")).status_code == 200
    r = await stack.http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 10_000})
    assert r.status_code == 409 and r.json()["code"] == "credit.deposit_account_not_active", r.text
    assert await _count(stack, disbursals, facility_id=fid) == 0
    body = (await stack.http.get(f"/api/v1/credit-facilities/{fid}")).json()
    assert (body["drawn"], body["remaining"]) == (0, 100_000)


async def test_disbursal_refused_once_kyc_is_rejected(kyc_stack):
    stack = kyc_stack
    await set_price(stack.engine, PRICE)
    fid, _, _ = await active_facility(stack, one_time_fee_rate="0")
    customer_id = (await stack.http.get(f"/api/v1/credit-facilities/{fid}")).json()["customer_id"]
    await _reject_kyc(stack, customer_id)
    r = await stack.http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 10_000})
    assert r.status_code == 422 and r.json()["code"] == "customer.not_verified", r.text
    assert await _count(stack, disbursals, facility_id=fid) == 0
    bal = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert (bal["facility_remaining"], bal["uncovered_outstanding"]) == (100_000, 0)  # nothing reserved
