"""credit.md §13 after any sequence of disbursals (new-user #1: ``facility`` summed every
initiation's pending credit and read 150,000 for a 100,000 facility after a 50,000 disbursal).

The facility's real accounts (created by the credit module) receive the credit templates' real
postings in a random order of initiations, settlements, cancellations and refused over-draws; the
summary the API answers with must then equal a model of the loan.
"""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities import ledger
from activities.credit import facility_accounts as fa
from activities.credit.store import facility_balance
from domain.ledger.errors import InsufficientBalance
from tests.credit_fixtures import terms

step = st.tuples(st.integers(1, 60_000), st.sampled_from(["confirm", "cancel", "in_flight"]))


async def _post(conn, code: str, params: dict, key: str) -> None:
    await ledger.post(conn, code, params, idempotency_key=key)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(amount=st.integers(1_000, 200_000), initial=st.integers(0, 1_000), steps=st.lists(step, max_size=8))
async def test_every_figure_holds_after_any_sequence_of_disbursals(engine, amount, initial, steps):
    fid = str(uuid.uuid4())
    async with engine.begin() as conn:
        acc = await fa.create_pending_accounts(conn, fid, str(uuid.uuid4()), "Individual", terms())
        acc |= await fa.create_active_accounts(conn, fid, "Individual", terms())
        deposit = uuid.uuid4()
        await ledger.create_account(conn, id=deposit, code=str(deposit), name="deposit", normal_balance="credit")
        fac = {"facility_omnibus_account_id": acc["facility_omnibus"], "facility_account_id": acc["facility"],
               "amount": amount}
        await _post(conn, "CREATE_CREDIT_FACILITY_PROPOSAL", fac, f"{fid}:create")
        assert (await facility_balance(conn, acc)).facility == amount
        await _post(conn, "ACTIVATE_CREDIT_FACILITY", fac, f"{fid}:activate")

    def draw(units: int) -> dict:
        return {"facility_account_id": acc["facility"], "uncovered_outstanding_account_id": acc["uncovered_outstanding"],
                "amount": units}

    def settle(units: int) -> dict:
        return {**draw(units), "disbursed_receivable_account_id": acc["disbursed_receivable_not_yet_due"],
                "deposit_account_id": str(deposit)}

    settled = in_flight = 0
    async with engine.begin() as conn:
        if initial:
            await _post(conn, "INITIAL_DISBURSAL", settle(initial), f"{fid}:initial")
            settled += initial
    for n, (units, outcome) in enumerate(steps):
        async with engine.begin() as conn:
            try:
                async with conn.begin_nested():
                    await _post(conn, "INITIATE_CREDIT_FACILITY_DISBURSAL", draw(units), f"{fid}:{n}:initiate")
            except InsufficientBalance:
                assert units > amount - settled - in_flight  # the limit refuses only an over-draw
                continue
            if outcome == "confirm":
                await _post(conn, "CONFIRM_DISBURSAL", settle(units), f"{fid}:{n}:settle")
                settled += units
            elif outcome == "cancel":
                await _post(conn, "CANCEL_DISBURSAL", draw(units), f"{fid}:{n}:cancel")
            else:
                in_flight += units
    async with engine.connect() as conn:
        summary = (await facility_balance(conn, acc)).as_dict()
    nothing = dict.fromkeys((
        "due_disbursed_outstanding", "overdue_disbursed_outstanding", "disbursed_defaulted", "interest_posted",
        "not_yet_due_interest_outstanding", "due_interest_outstanding", "overdue_interest_outstanding",
        "interest_defaulted", "interest_accrued", "interest_income", "disbursed_outstanding_payable",
        "interest_outstanding_payable", "interest_outstanding", "total_outstanding_payable", "total_overdue"), 0)
    assert summary == {
        "facility": amount, "facility_remaining": amount - settled - in_flight, "collateral": 0,
        "disbursed": settled, "not_yet_due_disbursed_outstanding": settled, "disbursed_outstanding": settled,
        "uncovered_outstanding": settled + in_flight, "fee_income": 0, "total_outstanding": settled,
        "any_outstanding_or_defaulted": settled > 0, **nothing}


async def test_the_reported_case_through_the_api(credit_stack):
    """100,000 facility, one 50,000 disbursal settled: facility stays 100,000."""
    from tests.integration.credit.facility_helpers import PRICE, active_facility, set_price, wait_for

    stack = credit_stack
    await set_price(stack.engine, PRICE)
    fid, _, _ = await active_facility(stack, amount=100_000, one_time_fee_rate="0")
    r = await stack.http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 50_000})
    assert r.status_code == 201, r.text
    await wait_for(lambda: stack.http.get(f"/api/v1/disbursals/{r.json()['id']}"), lambda b: b["status"] != "NEW")
    bal = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert (bal["facility"], bal["facility_remaining"], bal["disbursed"]) == (100_000, 50_000, 50_000), bal
