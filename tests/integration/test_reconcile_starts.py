"""A workflow whose start was lost after its entity was written is started by the worker's sweep."""

import asyncio
import uuid
from datetime import timedelta

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
    from tests.integration.credit.facility_helpers import customer_with_deposit

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
        assert proposal["stage"] == "proposal"

        assert await sweep(stack.engine, stack.client, stack.settings.temporal_task_queue, grace=timedelta(0)) == 1
        for _ in range(200):
            body = (await stack.http.get(f"/api/v1/credit-facility-proposals/{proposal['id']}")).json()
            if body["stage"] == "pending":
                break
            await asyncio.sleep(0.05)
        assert body["stage"] == "pending", body
