"""Governance through the API with the worker running: committees, thresholds, votes, restarts."""

import asyncio
import uuid

import pytest

from activities.registry import Deps
from tests.harness import Stack
from tests.integration.governance_support import NeedsApprovalWorkflow
from workers.worker import build_worker
from workflows.approval_process import approval_workflow_id


async def _members(stack, n=3, role="bank-manager"):
    """n committee members, each an operator with their own authenticated API client."""
    clients, ids = [], []
    for i in range(n):
        c = await stack.client_for(f"voter{i}-{uuid.uuid4().hex[:6]}@bank.test", role)
        clients.append(c)
        ids.append((await c.get("/api/v1/me")).json()["user"]["id"])
    return ids, clients


async def _committee_policy(http, members, threshold):
    r = await http.post("/api/v1/committees", json={"name": f"credit-{uuid.uuid4().hex[:6]}",
                                                    "member_user_ids": members})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    pols = (await http.get("/api/v1/policies")).json()["items"]
    pid = next(p["id"] for p in pols if p["process_type"] == "WITHDRAW")
    r = await http.put(f"/api/v1/policies/{pid}/rules",
                       json={"type": "committee", "committee_id": cid, "threshold": threshold})
    assert r.status_code == 200, r.text
    return cid


async def _start(stack, task_queue=None):
    process_id = str(uuid.uuid4())
    op = await stack.client.start_workflow(
        NeedsApprovalWorkflow.run, ["withdraw", process_id, f"withdrawal:{process_id}"],
        id=f"op-{process_id}", task_queue=task_queue or stack.settings.temporal_task_queue,
    )
    for _ in range(100):
        r = await stack.http.get(f"/api/v1/approval-processes/{process_id}")
        if r.status_code == 200:
            break
        await asyncio.sleep(0.1)
    approval = stack.client.get_workflow_handle(approval_workflow_id(process_id))
    for _ in range(100):
        try:
            await approval.describe()
            break
        except Exception:  # noqa: BLE001 - the child is not started yet (auto-approve never starts one)
            await asyncio.sleep(0.05)
    return process_id, op


def _approve(client, pid):
    return client.post(f"/api/v1/approval-processes/{pid}/approve")


def _deny(client, pid, reason):
    return client.post(f"/api/v1/approval-processes/{pid}/deny", json={"reason": reason})


@pytest.fixture
async def gov_stack(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, extra_workflows=[NeedsApprovalWorkflow]) as s:
        yield s


async def test_committee_and_threshold_validation(stack):
    ids, _ = await _members(stack, 2)
    r = await stack.http.post("/api/v1/committees", json={"name": "c", "member_user_ids": ids})
    cid = r.json()["id"]
    pols = (await stack.http.get("/api/v1/policies")).json()["items"]
    assert {p["process_type"] for p in pols} == {"CREDIT_FACILITY_PROPOSAL", "DISBURSAL", "WITHDRAW"}
    pid = pols[0]["id"]
    for bad in (0, 3):
        r = await stack.http.put(f"/api/v1/policies/{pid}/rules",
                                 json={"type": "committee", "committee_id": cid, "threshold": bad})
        assert r.status_code == 422 and r.json()["code"] == "governance.invalid_threshold"
    assert (await stack.http.get(f"/api/v1/policies/{pid}")).json()["rules"] == {"type": "AUTO_APPROVE"}
    r = await stack.http.post("/api/v1/committees", json={"name": "empty", "member_user_ids": []})
    assert r.status_code == 422
    r = await stack.http.post("/api/v1/committees", json={"name": "c", "member_user_ids": ids[:1]})
    assert r.status_code == 409 and r.json()["code"] == "governance.committee_name_taken"
    r = await stack.http.post("/api/v1/committees", json={"name": "x", "member_user_ids": [str(uuid.uuid4())]})
    assert r.status_code == 422 and r.json()["code"] == "governance.user_not_found"
    # threshold 2 on a 2-member committee: removing one would break the policy
    r = await stack.http.put(f"/api/v1/policies/{pid}/rules",
                             json={"type": "committee", "committee_id": cid})
    assert r.status_code == 200 and r.json()["rules"]["threshold"] == 2
    r = await stack.http.delete(f"/api/v1/committees/{cid}/members/{ids[0]}")
    assert r.status_code == 422 and r.json()["code"] == "governance.invalid_threshold"
    r = await stack.http.put(f"/api/v1/committees/{cid}/members/{ids[0]}")  # idempotent add
    assert r.status_code == 200 and sorted(r.json()["member_user_ids"]) == sorted(ids)


async def test_two_of_three_approve_and_rejected_votes(gov_stack):
    stack = gov_stack
    ids, voters = await _members(stack)
    outsider = await stack.client_for("outsider@bank.test", "bank-manager")
    await _committee_policy(stack.http, ids, threshold=2)
    pid, op = await _start(stack)

    r = await _approve(voters[0], pid)
    assert r.status_code == 200 and r.json()["status"] == "IN_PROGRESS", r.text
    cases = [
        (_approve(outsider, pid), 409, "governance.not_eligible_voter"),
        (_approve(voters[0], pid), 409, "governance.already_voted"),
        (_deny(voters[1], pid, "  "), 422, "governance.deny_reason_required"),
    ]
    for call, status, code in cases:
        r = await call
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await _approve(voters[2], pid)
    assert r.status_code == 200 and r.json()["status"] == "APPROVED"
    assert await op.result() == "approved"

    body = (await stack.http.get(f"/api/v1/approval-processes/{pid}")).json()
    assert body["status"] == "APPROVED" and [v["voter_id"] for v in body["votes"]] == [ids[0], ids[2]]
    listed = (await stack.http.get("/api/v1/approval-processes?status=approved&process_type=withdraw")).json()
    assert [p["process_id"] for p in listed["items"]] == [pid]
    r = await _approve(voters[1], pid)  # late vote
    assert r.status_code == 409 and r.json()["code"] == "governance.already_concluded"
    audit = (await stack.http.get("/api/v1/audit-entries", params={"action": "governance:approval-process:conclude"})).json()
    assert [e["object"] for e in audit["items"]] == [f"governance/approval-process/{pid}"]


async def test_deny_with_reason_concludes_at_once(gov_stack):
    stack = gov_stack
    ids, voters = await _members(stack)
    await _committee_policy(stack.http, ids, threshold=3)
    pid, op = await _start(stack)
    r = await _deny(voters[1], pid, "insufficient KYC")
    assert r.status_code == 200 and r.json()["status"] == "DENIED"
    assert await op.result() == "denied"
    body = (await stack.http.get(f"/api/v1/approval-processes/{pid}")).json()
    assert body["votes"][0]["reason"] == "insufficient KYC"


async def test_auto_approve_policy_needs_no_votes(gov_stack):
    pid, op = await _start(gov_stack)
    assert await op.result() == "approved"
    body = (await gov_stack.http.get(f"/api/v1/approval-processes/{pid}")).json()
    assert body["status"] == "APPROVED" and body["votes"] == []


async def test_process_survives_worker_restart(stack):
    """Votes are durable across a worker restart: none lost, none double-counted."""
    ids, voters = await _members(stack)
    await _committee_policy(stack.http, ids, threshold=3)
    tq = f"restart-{uuid.uuid4().hex[:8]}"
    deps = Deps(engine=stack.engine, settings=stack.settings)

    def new_worker():
        # No workflow cache: the second worker must rebuild the process by replaying its history
        # (and the Java test server does not hand a dead worker's sticky queue over to another).
        return build_worker(stack.client, deps, tq, extra_workflows=[NeedsApprovalWorkflow],
                            max_cached_workflows=0)

    async with new_worker():
        pid, op = await _start(stack, tq)
        assert (await _approve(voters[0], pid)).status_code == 200
    async with new_worker():
        r = await _approve(voters[0], pid)
        assert r.status_code == 409 and r.json()["code"] == "governance.already_voted"
        assert (await _approve(voters[1], pid)).json()["status"] == "IN_PROGRESS"
        body = (await _approve(voters[2], pid)).json()
        assert body["status"] == "APPROVED" and len(body["votes"]) == 3
        assert await op.result() == "approved"
    body = (await stack.http.get(f"/api/v1/approval-processes/{pid}")).json()
    assert sorted(v["voter_id"] for v in body["votes"]) == sorted(ids)


async def test_committees_list_pages_with_members(stack):
    ids, _ = await _members(stack, 3)
    for i in range(3):
        r = await stack.http.post("/api/v1/committees", json={"name": f"page-{i}", "member_user_ids": ids[: i + 1]})
        assert r.status_code == 201
    r = await stack.http.get("/api/v1/committees", params={"first": 2})
    assert r.status_code == 200, r.text
    first = r.json()
    r = await stack.http.get("/api/v1/committees", params={"first": 2, "after": first["next_cursor"]})
    assert r.status_code == 200, r.text
    rest = r.json()
    assert [c["name"] for c in first["items"] + rest["items"]] == ["page-2", "page-1", "page-0"]
    assert rest["next_cursor"] is None
    assert [len(c["member_user_ids"]) for c in first["items"] + rest["items"]] == [3, 2, 1]


async def test_approval_processes_list_pages(gov_stack):
    for _ in range(3):
        await _start(gov_stack)
    r = await gov_stack.http.get("/api/v1/approval-processes", params={"first": 2})
    assert r.status_code == 200 and len(r.json()["items"]) == 2
    r = await gov_stack.http.get("/api/v1/approval-processes", params={"first": 2, "after": r.json()["next_cursor"]})
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 1 and r.json()["next_cursor"] is None


async def _process_without_workflow(stack, voters_ids):
    """An approval process recorded in the database whose workflow has not been started (yet)."""
    from activities.governance.activity import GovernanceActivities, StartApproval

    await _committee_policy(stack.http, voters_ids, threshold=1)
    pid = str(uuid.uuid4())
    state = await GovernanceActivities(stack.engine).start_approval_process(
        StartApproval(process_id=pid, process_type="withdraw", target_ref=f"withdrawal:{pid}"))
    return pid, state


async def test_vote_before_the_workflow_starts_is_retryable_not_concluded(stack):
    """Regression (defects #15): a process whose workflow is not running yet was answered 409
    governance.already_concluded; it is in progress, so the answer is a retryable 503."""
    ids, voters = await _members(stack, 1)
    pid, _ = await _process_without_workflow(stack, ids)
    r = await _approve(voters[0], pid)
    assert r.status_code == 503 and r.json()["code"] == "common.unavailable", r.text
    assert r.headers["Retry-After"] == "1"
    assert (await stack.http.get(f"/api/v1/approval-processes/{pid}")).json()["status"] == "IN_PROGRESS"


async def test_vote_without_a_worker_answers_503_in_bounded_time(stack, monkeypatch):
    """Regression (defects #17): an Update while no worker polls waited until one came back."""
    from workflows.approval_process import ApprovalProcessWorkflow

    monkeypatch.setattr("api.workflow_calls.UPDATE_TIMEOUT_S", 1.0)
    ids, voters = await _members(stack, 1)
    pid, state = await _process_without_workflow(stack, ids)
    await stack.client.start_workflow(ApprovalProcessWorkflow.run, state, id=approval_workflow_id(pid),
                                      task_queue=f"no-worker-{uuid.uuid4().hex[:6]}")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    r = await _approve(voters[0], pid)
    assert r.status_code == 503 and r.json()["code"] == "common.unavailable", r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert loop.time() - t0 < 5
    assert (await stack.http.get(f"/api/v1/approval-processes/{pid}")).json()["votes"] == []


async def test_a_started_process_starts_again_as_stored_with_one_audit_entry_each(stack):
    """``start`` is idempotent by process id: a retried activity answers the stored process (read
    with the policy in one statement); its audit entries are written once, in their order."""
    from sqlalchemy import text

    from activities.governance.activity import GovernanceActivities, StartApproval

    ids, _ = await _members(stack, 2)
    pid, first = await _process_without_workflow(stack, ids)
    again = await GovernanceActivities(stack.engine).start_approval_process(
        StartApproval(process_id=pid, process_type="withdraw", target_ref=f"withdrawal:{pid}"))
    from domain.governance.voting import ApprovalStatus

    assert again == first and again.status is ApprovalStatus.IN_PROGRESS and sorted(again.eligible) == sorted(ids)
    auto = str(uuid.uuid4())  # a type without a committee: approved at once, two entries in one statement
    await GovernanceActivities(stack.engine).start_approval_process(
        StartApproval(process_id=auto, process_type="credit-facility-proposal", target_ref=f"x:{auto}"))
    async with stack.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT object, action, subject FROM audit_entries"
                                        " WHERE object IN (:a, :b) ORDER BY id"),
                                   {"a": f"governance/approval-process/{pid}",
                                    "b": f"governance/approval-process/{auto}"})).all()
    assert [(r.object.rsplit("/", 1)[1], r.action) for r in rows] == [
        (pid, "governance:approval-process:create"), (auto, "governance:approval-process:create"),
        (auto, "governance:approval-process:conclude")]
    assert {r.subject for r in rows} == {"system:governance"}
