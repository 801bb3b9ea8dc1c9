"""Issue 18 item 1 through the API with the worker running: a payment is a Temporal Update on the
facility workflow that answers with its allocations; refusals post nothing; a replay returns the
same payment; concurrent payments allocate exactly once each."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.integration.credit.facility_helpers import PRICE, active_facility, deposit_balance, set_price

API = "/api/v1"
SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0"}


async def _ledger_rows(engine) -> tuple[int, int]:
    async with engine.connect() as conn:
        tx = (await conn.execute(text("SELECT count(*) FROM ledger_transactions"))).scalar_one()
        pays = (await conn.execute(text("SELECT count(*) FROM credit_payments"))).scalar_one()
    return tx, pays


async def _pay(http, fid: str, amount: int, key: str | None = None, **extra):
    headers = {"Idempotency-Key": key} if key else {}
    return await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": amount, **extra},
                           headers=headers)


async def test_a_payment_answers_with_its_allocations_and_a_replay_returns_the_same_payment(credit_stack):
    stack, http = credit_stack, credit_stack.http
    await set_price(stack.engine, PRICE)
    fid, _, deposit = await active_facility(stack, 100_000, **SINGLE)
    assert await deposit_balance(stack, deposit) == 100_000

    r = await _pay(http, fid, 30_000, key="pay-1")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["amount"], body["allocated"], body["unallocated"]) == (30_000, 30_000, 0)
    [a] = body["allocations"]
    assert (a["obligation_type"], a["obligation_status"], a["amount"], a["payment_allocation_idx"]) == (
        "DISBURSAL", "NOT_YET_DUE", 30_000, 1)
    assert await deposit_balance(stack, deposit) == 70_000
    bal = (await http.get(f"{API}/credit-facilities/{fid}/balance")).json()
    assert (bal["not_yet_due_disbursed_outstanding"], bal["uncovered_outstanding"]) == (70_000, 70_000)
    [ob] = (await http.get(f"{API}/credit-facilities/{fid}/obligations")).json()["items"]
    assert (ob["outstanding"], ob["status"]) == (70_000, "NOT_YET_DUE")

    before = await _ledger_rows(stack.engine)
    again = await _pay(http, fid, 30_000, key="pay-1")
    assert again.status_code == 201 and again.json()["id"] == body["id"], again.text
    assert again.json()["allocations"] == body["allocations"]
    assert await _ledger_rows(stack.engine) == before  # nothing posted, no second payment
    assert await deposit_balance(stack, deposit) == 70_000

    listed = (await http.get(f"{API}/credit-facilities/{fid}/payments")).json()["items"]
    assert [p["id"] for p in listed] == [body["id"]] and listed[0]["allocations"] == body["allocations"]
    history = (await http.get(f"{API}/credit-facilities/{fid}/history")).json()
    assert [e["payload"]["amount_cents"] for e in history if e["event_type"] == "payment_recorded"] == [30_000]


async def test_overpayment_and_a_frozen_account_are_refused_and_nothing_is_posted(credit_stack):
    stack, http = credit_stack, credit_stack.http
    await set_price(stack.engine, PRICE)
    fid, _, deposit = await active_facility(stack, 100_000, **SINGLE)
    before = await _ledger_rows(stack.engine)

    r = await _pay(http, fid, 100_001)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "credit.payment_amount_greater_than_outstanding_obligations"
    assert await _ledger_rows(stack.engine) == before

    r = await http.post(f"{API}/deposit-accounts/{deposit}/freeze")
    assert r.status_code == 200, r.text
    before = await _ledger_rows(stack.engine)
    r = await _pay(http, fid, 10_000)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "credit.deposit_account_not_active"
    assert await _ledger_rows(stack.engine) == before
    bal = (await http.get(f"{API}/credit-facilities/{fid}/balance")).json()
    assert bal["uncovered_outstanding"] == 100_000


async def test_a_payment_above_the_deposit_balance_is_refused(credit_stack):
    stack, http = credit_stack, credit_stack.http
    await set_price(stack.engine, PRICE)
    fid, _, deposit = await active_facility(stack, 100_000, **SINGLE)
    # a withdrawal reserves 95,000 of the 100,000 disbursed (settled balance 5,000 left)
    r = await http.post(f"{API}/withdrawals", json={"deposit_account_id": str(deposit), "amount": 95_000})
    assert r.status_code == 201, r.text
    assert await deposit_balance(stack, deposit) == 5_000
    before = await _ledger_rows(stack.engine)
    r = await _pay(http, fid, 10_000)
    assert r.status_code == 422 and r.json()["code"] == "credit.insufficient_deposit_balance", r.text
    assert await _ledger_rows(stack.engine) == before
    assert (await _pay(http, fid, 5_000)).status_code == 201  # what the account holds is taken


async def test_concurrent_payments_on_one_facility_allocate_exactly_once_each(credit_stack):
    stack, http = credit_stack, credit_stack.http
    await set_price(stack.engine, PRICE)
    fid, _, deposit = await active_facility(stack, 100_000, **SINGLE)
    results = await asyncio.gather(*(_pay(http, fid, 1_000 + i, key=f"c-{i}") for i in range(8)))
    assert [r.status_code for r in results] == [201] * 8, [r.text for r in results]
    paid = sum(1_000 + i for i in range(8))
    async with stack.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT a.payment_id, a.idx, a.amount_cents FROM credit_payment_allocations a ORDER BY a.idx"))).all()
        keys = (await conn.execute(text(
            "SELECT count(*) FROM ledger_transactions WHERE idempotency_key LIKE 'obligation-%-idx-%'"))).scalar_one()
    assert [r.idx for r in rows] == list(range(1, 9))  # one allocation each, numbered in order
    assert len({r.payment_id for r in rows}) == 8 and sum(r.amount_cents for r in rows) == paid
    assert keys == 8
    [ob] = (await http.get(f"{API}/credit-facilities/{fid}/obligations")).json()["items"]
    assert ob["outstanding"] == 100_000 - paid
    assert await deposit_balance(stack, deposit) == 100_000 - paid


async def test_the_allocation_strategy_is_a_validated_term(credit_stack):
    from tests.integration.credit.facility_helpers import customer_with_deposit, propose

    customer_id, _ = await customer_with_deposit(credit_stack)
    r = await propose(credit_stack.http, customer_id, payment_allocation_strategy="tiered")
    assert r.status_code == 201 and r.json()["terms"]["payment_allocation_strategy"] == "TIERED", r.text
    r = await propose(credit_stack.http, customer_id)
    assert r.json()["terms"]["payment_allocation_strategy"] == "INTEREST_FIRST"  # lana's, by default
    r = await propose(credit_stack.http, customer_id, payment_allocation_strategy="LARGEST_FIRST")
    assert (r.status_code, r.json()["code"]) == (422, "common.validation_failed"), r.text


async def test_a_payment_on_a_facility_that_is_not_active_is_refused(credit_stack):
    from tests.integration.credit.facility_helpers import customer_with_deposit, propose, wait_for

    stack, http = credit_stack, credit_stack.http
    customer_id, _ = await customer_with_deposit(stack)
    pending = (await propose(http, customer_id)).json()["id"]
    await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{pending}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await _pay(http, pending, 1_000)
    assert (r.status_code, r.json()["code"]) == (409, "credit.payment_on_inactive_facility"), r.text
    denied = (await propose(http, customer_id, accept=False)).json()["id"]
    r = await http.post(f"{API}/credit-facility-proposals/{denied}/customer-decision", json={"approved": False})
    assert r.status_code == 200, r.text
    await wait_for(lambda: http.get(f"{API}/credit-facility-proposals/{denied}"),
                   lambda b: b["proposal_status"] == "CUSTOMER_DENIED")
    for _ in range(50):  # its workflow ends right after the decision
        r = await _pay(http, denied, 1_000)
        if r.status_code != 503:
            break
        await asyncio.sleep(0.1)
    assert (r.status_code, r.json()["code"]) == (409, "credit.payment_on_inactive_facility"), r.text
    r = await http.post(f"{API}/credit-facilities/{pending}/complete")
    assert (r.status_code, r.json()["code"]) == (409, "credit.completion_not_allowed"), r.text
    assert (await http.get(f"{API}/credit-facilities/{pending}/payments")).json()["items"] == []
    missing = "00000000-0000-0000-0000-000000000001"
    assert (await _pay(http, missing, 1_000)).json()["code"] == "credit.facility_not_found"
