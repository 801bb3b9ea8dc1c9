"""Issue 18: the allocation strategy chosen per terms, on real obligations (the end-of-day steps
made them) and the real ledger. One month's facility, interest due 20 days after its cycle and the
principal overdue 5 days after maturity: six days after maturity the principal is overdue and the
last interest obligation is not yet due. ``interest_first`` (lana) pays the interest first,
``tiered`` the overdue principal; each credits the receivable of the obligation's status."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from activities.credit import payments
from domain.credit.messages import PaymentInput
from tests.integration.credit.eod_helpers import activated_facility, run_dates

JAN15 = date(2025, 1, 15)
MATURITY = date(2025, 2, 15)
AMOUNT = 1_000_000
TERMS = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0", "duration": {"period": "MONTHS", "units": 1},
         "interest_due_duration_from_accrual": {"period": "DAYS", "units": 20},
         "obligation_overdue_duration_from_due": {"period": "DAYS", "units": 5}}


async def _pay(stack, fid: str, amount: int, effective: date):
    async with stack.engine.begin() as conn:
        return await payments.record_payment(conn, PaymentInput(
            facility_id=fid, payment_id=str(uuid.uuid4()), amount_cents=amount,
            effective=effective, actor="test", now=datetime.now(UTC)), settings=stack.settings)


async def test_interest_first_and_tiered_pay_different_obligations(credit_stack):
    stack = credit_stack
    lana, tiered = [(await activated_facility(stack, JAN15, AMOUNT, payment_allocation_strategy=s, **TERMS))[0]
                    for s in ("interest_first", "tiered")]
    day = MATURITY + timedelta(days=6)
    await run_dates(stack.engine, JAN15, day)
    for fid in (lana, tiered):
        obs = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/obligations",
                                    params={"direction": "asc"})).json()["items"]
        assert sorted((o["obligation_type"], o["status"]) for o in obs) == [
            ("DISBURSAL", "OVERDUE"), ("INTEREST", "DUE"), ("INTEREST", "NOT_YET_DUE")], obs

    first = await _pay(stack, lana, 20_000, day)
    second = await _pay(stack, tiered, 20_000, day)
    assert [(a.obligation_type, a.obligation_status) for a in first.allocations] == [
        ("Interest", "Due"), ("Interest", "NotYetDue"), ("Disbursal", "Overdue")]
    assert [(a.obligation_type, a.obligation_status, a.amount_cents) for a in second.allocations] == [
        ("Disbursal", "Overdue", 20_000)]
    bal = (await stack.http.get(f"/api/v1/credit-facilities/{tiered}/balance")).json()
    assert bal["overdue_disbursed_outstanding"] == AMOUNT - 20_000
    async with stack.engine.connect() as conn:  # the receivable of each share's status was credited
        credited = (await conn.execute(text(
            "SELECT a.obligation_status, e.account_id::text = a.receivable_account_id::text AS same"
            " FROM credit_payment_allocations a JOIN ledger_entries e ON e.transaction_id = a.ledger_tx_id"
            " AND e.direction = 'credit'"))).all()
    assert credited and all(r.same for r in credited)
