"""Issue 18 item 4 through the API with the worker running: completion refused while anything is
outstanding (naming it), otherwise the collateral released (REMOVE_COLLATERAL) and the facility
closed, its workflow ended; ``credit_close_when_paid`` closes it with the payment that pays it off;
a closed facility takes no payments (a replay still answers) and is skipped by price changes. And
a back-dated payment needs its own permission."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from temporalio.client import WorkflowExecutionStatus

from activities.credit import operations
from domain.access.permissions import permission_set_id
from tests.harness import Stack
from tests.integration.credit.facility_helpers import PRICE, active_facility, deposit_balance, set_price
from workflows.credit_facility import facility_workflow_id

API = "/api/v1"
SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0"}


async def _remove_collateral_postings(engine, fid: str) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT e.units FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id"
            " WHERE t.template_code = 'REMOVE_COLLATERAL' AND e.direction = 'debit'"
            " AND t.idempotency_key LIKE :k"), {"k": f"collateral:{fid}:%"})).scalars())


async def test_completion_is_refused_naming_the_outstanding_then_releases_the_collateral_and_closes(credit_stack):
    stack, http = credit_stack, credit_stack.http
    await set_price(stack.engine, PRICE)
    fid, _, deposit = await active_facility(stack, 100_000, **SINGLE)

    r = await http.post(f"{API}/credit-facilities/{fid}/complete")
    assert (r.status_code, r.json()["code"]) == (409, "credit.outstanding_amount"), r.text
    assert "not_yet_due_disbursed_outstanding 100000" in r.json()["detail"]
    r = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 100_000})
    assert r.status_code == 201, r.text
    assert (await http.get(f"{API}/credit-facilities/{fid}")).json()["status"] == "ACTIVE"  # no auto-close

    r = await http.post(f"{API}/credit-facilities/{fid}/complete")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["collateral"], body["collateralization_state"]) == ("CLOSED", 0, "NO_COLLATERAL")
    assert await _remove_collateral_postings(stack.engine, fid) == [10_000_000]
    bal = (await http.get(f"{API}/credit-facilities/{fid}/balance")).json()
    assert (bal["collateral"], bal["total_outstanding"]) == (0, 0)
    again = await http.post(f"{API}/credit-facilities/{fid}/complete")  # closed: answered as it is
    assert (again.status_code, again.json()["status"]) == (200, "CLOSED")
    assert await _remove_collateral_postings(stack.engine, fid) == [10_000_000]
    status = (await stack.client.get_workflow_handle(facility_workflow_id(fid)).describe()).status
    assert status is WorkflowExecutionStatus.COMPLETED
    events = [e["event_type"] for e in (await http.get(f"{API}/credit-facilities/{fid}/history")).json()]
    assert events[-3:] == ["collateral_updated", "collateralization_changed", "facility_completed"]
    assert await deposit_balance(stack, deposit) == 0


async def test_close_when_paid_closes_with_the_last_payment_and_a_closed_facility_is_left_alone(
        db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, credit_close_when_paid=True) as stack:
        http = stack.http
        await set_price(engine, PRICE)
        fid, _, _ = await active_facility(stack, 100_000, **SINGLE)
        r = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 60_000})
        assert r.status_code == 201 and (await http.get(f"{API}/credit-facilities/{fid}")).json()["status"] == "ACTIVE"
        last = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 40_000},
                               headers={"Idempotency-Key": "the-last"})
        assert last.status_code == 201, last.text
        row = (await http.get(f"{API}/credit-facilities/{fid}")).json()
        assert (row["status"], row["collateral"]) == ("CLOSED", 0)
        assert await _remove_collateral_postings(engine, fid) == [10_000_000]

        replay = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 40_000},
                                 headers={"Idempotency-Key": "the-last"})
        assert replay.status_code == 201 and replay.json()["id"] == last.json()["id"], replay.text
        r = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 1})
        assert (r.status_code, r.json()["code"]) == (409, "credit.payment_on_closed_facility"), r.text

        async with engine.connect() as conn:  # a price collapse finds nothing to re-evaluate here
            assert fid not in await operations.crossing_ids(conn, 1)
        version = (await http.get(f"{API}/credit-facilities/{fid}")).json()["updated_at"]
        await set_price(engine, PRICE // 100)
        assert (await http.get(f"{API}/credit-facilities/{fid}")).json()["updated_at"] == version


async def test_a_back_dated_payment_needs_its_own_permission(credit_stack):
    stack, http = credit_stack, credit_stack.http
    await set_price(stack.engine, PRICE)
    fid, _, _ = await active_facility(stack, 100_000, **SINGLE)
    sets = [str(permission_set_id(n)) for n in ("collection_writer", "credit_viewer")]
    r = await http.post(f"{API}/roles", json={"name": "collector", "permission_set_ids": sets})
    assert r.status_code == 201, r.text
    collector = await stack.client_for("collector@bank.test", "collector")
    today = datetime.now(UTC).date()

    r = await collector.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 1_000, "effective": str(today)})
    assert (r.status_code, r.json()["code"]) == (403, "auth.forbidden"), r.text
    r = await collector.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 1_000})
    assert r.status_code == 201, r.text

    r = await http.post(f"{API}/credit-facilities/{fid}/payments",
                        json={"amount": 1_000, "effective": str(today - timedelta(days=1))})  # before activation
    assert (r.status_code, r.json()["code"]) == (422, "credit.payment_before_facility_activation"), r.text
    r = await http.post(f"{API}/credit-facilities/{fid}/payments",
                        json={"amount": 1_000, "effective": str(today + timedelta(days=1))})
    assert (r.status_code, r.json()["code"]) == (422, "credit.payment_effective_in_future"), r.text
    r = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 1_000, "effective": str(today)})
    assert r.status_code == 201 and r.json()["effective"] == str(today), r.text
