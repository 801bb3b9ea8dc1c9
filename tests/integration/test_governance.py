import asyncio
import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError

from activities.registry import Deps
from tests.integration.governance_support import NeedsApprovalWorkflow
from workers.worker import build_worker
from workflows.approval_process import ApprovalProcessWorkflow, VoteInput, approval_workflow_id

USERS = [str(uuid.uuid4()) for _ in range(3)]


async def _committee_policy(http, threshold=2, members=USERS):
    r = await http.post("/api/v1/committees", json={"name": f"credit-{uuid.uuid4().hex[:6]}",
                                                    "member_user_ids": members})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    pols = (await http.get("/api/v1/policies")).json()["items"]
    pid = next(p["id"] for p in pols if p["process_type"] == "withdraw")
    r = await http.put(f"/api/v1/policies/{pid}/rules",
                       json={"type": "committee", "committee_id": cid, "threshold": threshold})
    assert r.status_code == 200, r.text
    return cid, pid


async def _start(stack, worker_tq=None):
    process_id = str(uuid.uuid4())
    handle = await stack.client.start_workflow(
        NeedsApprovalWorkflow.run, ["withdraw", process_id, f"withdrawal:{process_id}"],
        id=f"op-{process_id}", task_queue=worker_tq or stack.settings.temporal_task_queue,
    )
    approval = stack.client.get_workflow_handle(approval_workflow_id(process_id))
    for _ in range(100):
        try:
            await approval.describe()
            break
        except Exception:  # noqa: BLE001 - not started yet
            await asyncio.sleep(0.1)
    return process_id, handle, approval


@pytest.fixture
async def gov_stack(db_url, engine, ts_env):
    from tests.harness import Stack

    async with Stack.start(db_url, engine, ts_env.client, extra_workflows=[NeedsApprovalWorkflow]) as s:
        yield s


async def test_threshold_validation_through_api(stack):
    r = await stack.http.post("/api/v1/committees", json={"name": "c", "member_user_ids": USERS[:2]})
    cid = r.json()["id"]
    pols = (await stack.http.get("/api/v1/policies")).json()["items"]
    assert {p["process_type"] for p in pols} == {"credit-facility-proposal", "disbursal", "withdraw"}
    pid = pols[0]["id"]
    for bad in (0, 3):
        r = await stack.http.put(f"/api/v1/policies/{pid}/rules",
                                 json={"type": "committee", "committee_id": cid, "threshold": bad})
        assert r.status_code == 422 and r.json()["code"] == "governance.invalid_threshold"
    assert (await stack.http.get(f"/api/v1/policies/{pid}")).json()["rules"] == {"type": "auto_approve"}
    r = await stack.http.post("/api/v1/committees", json={"name": "empty", "member_user_ids": []})
    assert r.status_code == 422
    r = await stack.http.post("/api/v1/committees", json={"name": "c", "member_user_ids": USERS[:1]})
    assert r.status_code == 409 and r.json()["code"] == "governance.committee_name_taken"


async def test_two_of_three_approve_with_rejections(gov_stack):
    stack = gov_stack
    await _committee_policy(stack.http)
    process_id, op, approval = await _start(stack)

    await approval.execute_update(ApprovalProcessWorkflow.vote, VoteInput(voter_id=USERS[0], approve=True))
    rejections = [
        VoteInput(voter_id=str(uuid.uuid4()), approve=True),  # not eligible
        VoteInput(voter_id=USERS[0], approve=True),  # second vote
        VoteInput(voter_id=USERS[1], approve=False, reason=""),  # deny without reason
    ]
    for bad in rejections:
        with pytest.raises(WorkflowUpdateFailedError):
            await approval.execute_update(ApprovalProcessWorkflow.vote, bad)
    state = await approval.execute_update(ApprovalProcessWorkflow.vote, VoteInput(voter_id=USERS[2], approve=True))
    assert state.status.value == "approved"
    assert await op.result() == "approved"

    r = await stack.http.get(f"/api/v1/approval-processes/{process_id}")
    body = r.json()
    assert body["status"] == "approved" and [v["voter_id"] for v in body["votes"]] == [USERS[0], USERS[2]]
    listed = (await stack.http.get("/api/v1/approval-processes?status=approved&process_type=withdraw")).json()
    assert [p["process_id"] for p in listed["items"]] == [process_id]
    # a late vote is refused cleanly by the API (the workflow has completed)
    with pytest.raises(Exception):  # noqa: B017 - the workflow is closed; any failure is acceptable here
        await approval.execute_update(ApprovalProcessWorkflow.vote, VoteInput(voter_id=USERS[1], approve=True))


async def test_deny_concludes_at_once(gov_stack):
    stack = gov_stack
    await _committee_policy(stack.http, threshold=3)
    process_id, op, approval = await _start(stack)
    state = await approval.execute_update(
        ApprovalProcessWorkflow.vote, VoteInput(voter_id=USERS[1], approve=False, reason="insufficient KYC"))
    assert state.status.value == "denied"
    assert await op.result() == "denied"
    body = (await stack.http.get(f"/api/v1/approval-processes/{process_id}")).json()
    assert body["votes"][0]["reason"] == "insufficient KYC"


async def test_auto_approve_policy_needs_no_votes(gov_stack):
    stack = gov_stack
    process_id, op, _ = await _start(stack)
    assert await op.result() == "approved"
    body = (await stack.http.get(f"/api/v1/approval-processes/{process_id}")).json()
    assert body["status"] == "approved" and body["votes"] == []


async def test_process_survives_worker_restart(stack):
    """Votes are durable across a worker restart: none lost, none double-counted."""
    await _committee_policy(stack.http, threshold=3)
    tq = f"restart-{uuid.uuid4().hex[:8]}"
    deps = Deps(engine=stack.engine, settings=stack.settings)

    def new_worker():
        # No workflow cache: the second worker must rebuild the process by replaying its history
        # (and the Java test server does not hand a dead worker's sticky queue over to another).
        return build_worker(stack.client, deps, tq, extra_workflows=[NeedsApprovalWorkflow],
                            max_cached_workflows=0)

    async with new_worker():
        process_id, op, approval = await _start(stack, tq)
        await approval.execute_update(ApprovalProcessWorkflow.vote, VoteInput(voter_id=USERS[0], approve=True))
    async with new_worker():
        with pytest.raises(WorkflowUpdateFailedError):
            await approval.execute_update(ApprovalProcessWorkflow.vote, VoteInput(voter_id=USERS[0], approve=True))
        await approval.execute_update(ApprovalProcessWorkflow.vote, VoteInput(voter_id=USERS[1], approve=True))
        state = await approval.execute_update(ApprovalProcessWorkflow.vote, VoteInput(voter_id=USERS[2], approve=True))
        assert state.status.value == "approved" and state.approvals == 3
        assert await op.result() == "approved"
    body = (await stack.http.get(f"/api/v1/approval-processes/{process_id}")).json()
    assert len(body["votes"]) == 3
