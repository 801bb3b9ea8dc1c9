"""A disbursal approved after its settlement became impossible (issue 14 item 1), through the API
with the worker: a refused settlement ends the disbursal ``Failed`` (reason kept, reservation
released, audited, shown in the API and in the workflow); a closed month posts on the first open day."""


from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from activities import ledger
from tests.integration.credit.facility_helpers import (
    PRICE,
    active_facility,
    committee,
    deposit_balance,
    set_price,
    vote,
    wait_for,
)
from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id


async def _awaiting_vote(stack, amount: int):
    """An active facility ($1,000, no fee) with a disbursal of ``amount`` waiting for its vote."""
    await set_price(stack.engine, PRICE)
    fid, _, deposit = await active_facility(stack, one_time_fee_rate="0")
    voter = await committee(stack, "disbursal")
    r = await stack.http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": amount})
    assert r.status_code == 201 and r.json()["status"] == "NEW", r.text
    return fid, deposit, voter, r.json()["id"]


async def _concluded(stack, did):
    return await wait_for(lambda: stack.http.get(f"/api/v1/disbursals/{did}"), lambda b: b["status"] != "NEW")


async def _settlement_effective(stack, did):
    async with stack.engine.connect() as conn:
        return (await conn.execute(text("SELECT effective FROM ledger_transactions WHERE idempotency_key = :k"),
                                   {"k": f"disbursal:{did}:settle"})).scalar_one_or_none()


async def test_settlement_refused_by_a_frozen_account_fails_the_disbursal_visibly(credit_stack):
    stack = credit_stack
    fid, deposit, voter, did = await _awaiting_vote(stack, 30_000)
    assert (await stack.http.post(f"/api/v1/deposit-accounts/{deposit}/freeze")).status_code == 200
    await vote(voter, did)

    body = await _concluded(stack, did)
    assert (body["status"], body["failure_code"]) == ("FAILED", "ledger.account_locked"), body
    assert str(deposit) in body["failure_reason"]
    events = (await stack.http.get(f"/api/v1/disbursals/{did}/history")).json()
    assert [e["event_type"] for e in events] == ["initiated", "approved", "settlement_failed"]
    assert events[-1]["payload"]["code"] == "ledger.account_locked"
    facility_events = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/history")).json()
    assert facility_events[-1]["event_type"] == "disbursal_concluded"
    assert facility_events[-1]["payload"]["status"] == "Failed"
    # the reservation is released, nothing reached the (frozen) deposit account, no settlement posted
    bal = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert (bal["facility_remaining"], bal["uncovered_outstanding"], bal["disbursed"]) == (100_000, 0, 0)
    assert await deposit_balance(stack, deposit) == 0 and await _settlement_effective(stack, did) is None
    facility = (await stack.http.get(f"/api/v1/credit-facilities/{fid}")).json()
    assert (facility["drawn"], facility["remaining"]) == (0, 100_000)
    async with stack.engine.connect() as conn:
        audited = (await conn.execute(text("SELECT action FROM audit_entries WHERE object = :o"),
                                      {"o": f"credit/disbursal/{did}"})).scalars().all()
    assert "credit:disbursal:fail-settlement" in audited

    # the workflow shows it and is not blocked: nothing in flight, and the loan goes on
    handle = stack.client.get_workflow_handle(facility_workflow_id(fid))
    summary = await handle.query(CreditFacilityWorkflow.summary)
    assert (summary.failed_disbursals, summary.in_flight_cents) == (1, 0)
    assert summary.last_disbursal_failure == f"{did}: ledger.account_locked"
    assert (await handle.query(CreditFacilityWorkflow.current)).in_flight == {}
    assert (await stack.http.post(f"/api/v1/deposit-accounts/{deposit}/unfreeze")).status_code == 200
    r = await stack.http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 30_000})
    assert r.status_code == 201, r.text
    await vote(voter, r.json()["id"])
    assert (await _concluded(stack, r.json()["id"]))["status"] == "CONFIRMED"
    assert await deposit_balance(stack, deposit) == 30_000


async def test_settlement_in_a_closed_month_posts_on_the_first_open_day(credit_stack):
    stack = credit_stack
    fid, deposit, voter, did = await _awaiting_vote(stack, 20_000)
    today = datetime.now(UTC).date()
    async with stack.engine.begin() as conn:  # the period through today was closed meanwhile
        await conn.execute(text("UPDATE ledger_journals SET closed_through = :d WHERE id = :j"),
                           {"d": today, "j": ledger.DEFAULT_JOURNAL_ID})
    await vote(voter, did)
    body = await _concluded(stack, did)
    assert (body["status"], body["failure_code"]) == ("CONFIRMED", None), body
    assert await _settlement_effective(stack, did) == today + timedelta(days=1)
    assert await deposit_balance(stack, deposit) == 20_000


