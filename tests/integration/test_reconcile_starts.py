"""A workflow whose start was lost after its entity was written is started by the worker's sweep."""

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import text

from activities.deposits import operations
from tests.integration.deposits_helpers import deposit, open_account
from workers.reconcile import sweep
from workflows.withdrawal import withdrawal_workflow_id


async def _wait_status(stack, withdrawal_id, wanted):
    for _ in range(200):
        r = await stack.http.get(f"/api/v1/withdrawals/{withdrawal_id}")
        if r.json()["status"] == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(r.json())


async def _wait_pending(stack, proposal_id):
    for _ in range(200):
        body = (await stack.http.get(f"/api/v1/credit-facility-proposals/{proposal_id}")).json()
        if body["stage"] == "PENDING":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(body)


async def test_lost_withdrawal_start_is_restarted_once(stack):
    account = await open_account(stack)
    assert (await deposit(stack, account, 10_000)).status_code == 201
    wid = str(uuid.uuid4())
    # The API's transaction committed (funds reserved) but the workflow start never happened.
    async with stack.engine.begin() as conn:
        await operations.initiate_withdrawal(conn, wid, account, 2_500, None, "user:test")
    assert (await stack.http.get(f"/api/v1/withdrawals/{wid}")).json()["status"] == "PENDING_APPROVAL"

    args = (stack.engine, stack.client, stack.settings.temporal_task_queue)
    assert await sweep(*args, grace=timedelta(hours=1)) == 0  # too young: maybe the API is still starting it
    assert await sweep(*args, grace=timedelta(0)) == 1
    await _wait_status(stack, wid, "PENDING_CONFIRMATION")  # auto-approve policy ran
    assert await sweep(*args, grace=timedelta(0)) == 0  # running now: nothing to do
    desc = await stack.client.get_workflow_handle(withdrawal_workflow_id(wid)).describe()
    assert desc.id == withdrawal_workflow_id(wid)
    r = await stack.http.post(f"/api/v1/withdrawals/{wid}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "CONFIRMED", r.text


class _TemporalDown:
    """Stands in for the API's Temporal client when the start call fails after the DB commit."""

    async def start_workflow(self, *args, **kwargs):
        from temporalio.service import RPCError, RPCStatusCode

        raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")


async def test_lost_proposal_start_is_restarted(db_url, engine, ts_env):
    from tests.credit_fixtures import terms_json
    from tests.harness import Stack
    from tests.integration.credit.facility_helpers import customer_decision, customer_with_deposit

    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
        customer_id, _ = await customer_with_deposit(stack)
        real = stack.app.state.temporal._client
        stack.app.state.temporal.set(_TemporalDown())
        try:
            r = await stack.http.post("/api/v1/credit-facility-proposals", json={
                "customer_id": customer_id, "amount": 100_000, "terms": terms_json()})
        finally:
            stack.app.state.temporal.set(real)
        assert r.status_code == 503, r.text
        [proposal] = (await stack.http.get("/api/v1/credit-facility-proposals")).json()["items"]
        assert proposal["stage"] == "PROPOSAL"
        # the customer's decision finds no workflow yet: a retryable 503, not "not pending"
        r = await customer_decision(stack.http, proposal["id"], True)
        assert r.status_code == 503 and r.headers.get("retry-after"), r.text

        assert await sweep(stack.engine, stack.client, stack.settings.temporal_task_queue, grace=timedelta(0)) == 1
        r = await customer_decision(stack.http, proposal["id"], True)
        assert r.status_code == 200, r.text
        await _wait_pending(stack, proposal["id"])


async def test_entities_lost_in_a_two_hour_outage_are_all_started(db_url, engine, ts_env):
    """Temporal down for two hours: a withdrawal and a proposal written then (their rows committed,
    their starts failed) are found by the next sweep whatever their age, started, and counted."""
    from structlog.testing import capture_logs

    from tests.credit_fixtures import terms_json
    from tests.harness import Stack
    from tests.integration.credit.facility_helpers import customer_with_deposit
    from workers.reconcile import STARTED, SweepCounts

    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
        customer_id, account_id = await customer_with_deposit(stack)
        account = str(account_id)
        assert (await deposit(stack, account, 10_000)).status_code == 201
        real = stack.app.state.temporal._client
        stack.app.state.temporal.set(_TemporalDown())
        try:
            w = await stack.http.post("/api/v1/withdrawals", json={"deposit_account_id": account, "amount": 100})
            p = await stack.http.post("/api/v1/credit-facility-proposals", json={  # no customer step
                "customer_id": customer_id, "amount": 100_000,
                "terms": terms_json(customer_acceptance_required=False)})
        finally:
            stack.app.state.temporal.set(real)
        assert w.status_code == 503 and p.status_code == 503, (w.text, p.text)
        async with stack.engine.begin() as conn:  # the outage began two hours ago
            for table in ("withdrawals", "credit_facilities", "workflow_starts"):
                await conn.execute(text(f"UPDATE {table} SET created_at = created_at - interval '2 hours'"))
        [withdrawal] = (await stack.http.get("/api/v1/withdrawals")).json()["items"]
        [proposal] = (await stack.http.get("/api/v1/credit-facility-proposals")).json()["items"]

        before = dict(STARTED)
        counts = SweepCounts()
        args = (stack.engine, stack.client, stack.settings.temporal_task_queue)
        with capture_logs() as logs:
            assert await sweep(*args, grace=timedelta(minutes=1), counts=counts) == 2
        assert counts.started == {"withdrawal": 1, "credit_facility": 1}
        assert STARTED["withdrawal"] == before.get("withdrawal", 0) + 1
        assert STARTED["credit_facility"] == before.get("credit_facility", 0) + 1
        [line] = [e for e in logs if e["event"] == "workflow start sweep"]
        assert line["started"] == 2 and line["checked"] == 2
        await _wait_status(stack, withdrawal["id"], "PENDING_CONFIRMATION")
        await _wait_pending(stack, proposal["id"])
        # Started rows leave the outbox; the next sweep has nothing to look at.
        async with stack.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM workflow_starts"))).scalar() == 0
        assert await sweep(*args, grace=timedelta(0)) == 0
