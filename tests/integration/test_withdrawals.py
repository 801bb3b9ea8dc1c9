"""Withdrawals through the API with the worker running: approval, confirm, deny, cancel, revert,
over-balance, concurrency, frozen accounts, and a worker crash between reservation and approval."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from activities.deposits.activity import WithdrawalActivities
from activities.deposits.operations import initiate_withdrawal
from activities.registry import Deps
from domain.deposits.messages import ConcludeApproval, WithdrawalCommand
from tests.integration.deposits_helpers import (
    API,
    balance,
    deposit,
    ledger_counts,
    omnibus_settled,
    open_account,
    wait_status,
    withdraw,
)
from tests.integration.test_governance import _committee_policy, _members
from workers.worker import build_worker
from workflows.approval_process import approval_workflow_id
from workflows.search_attributes import LANA_ACCOUNT_ID, LANA_CUSTOMER_ID, LANA_STATUS
from workflows.withdrawal import WithdrawalWorkflow, withdrawal_workflow_id


async def _funded(stack, amount=100_00) -> str:
    acct = await open_account(stack)
    assert (await deposit(stack, acct, amount)).status_code == 201
    return acct


async def _one_voter_committee(stack):
    """A funded account and a one-member committee deciding withdrawals; returns (account, voter)."""
    ids, voters = await _members(stack, 1)
    await _committee_policy(stack.http, ids, threshold=1)
    return await _funded(stack), voters[0]


async def _approval_started(stack, wid: str) -> None:
    """Wait for what a vote needs: the process's record and its workflow running (not for time)."""
    handle = stack.client.get_workflow_handle(approval_workflow_id(wid))
    for _ in range(400):
        if (await stack.http.get(f"{API}/approval-processes/{wid}")).status_code == 200:
            try:
                if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                    return
            except RPCError:
                pass  # its parent has not started it yet
        await asyncio.sleep(0.05)
    raise AssertionError("approval process never started")


async def test_approved_confirmed_then_reverted(stack):
    acct = await _funded(stack)
    r = await withdraw(stack, acct, 30_00, reference="payout-1")
    assert r.status_code == 201, r.text
    w = r.json()
    assert await balance(stack, acct) == {"currency": "USD", "settled": 100_00, "pending": 30_00,
                                          "available": 70_00, "frozen": 0}
    await wait_status(stack, w["id"], "PENDING_CONFIRMATION")  # default policy: auto-approve
    handle = stack.client.get_workflow_handle(withdrawal_workflow_id(w["id"]))
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "CONFIRMED", r.text
    assert await handle.result() == "CONFIRMED"
    desc = await handle.describe()
    sa = desc.typed_search_attributes
    assert (sa.get(LANA_ACCOUNT_ID), sa.get(LANA_STATUS)) == (acct, "CONFIRMED") and sa.get(LANA_CUSTOMER_ID)
    assert await balance(stack, acct) == {"currency": "USD", "settled": 70_00, "pending": 0,
                                          "available": 70_00, "frozen": 0}
    assert (await stack.http.post(f"{API}/withdrawals/{w['id']}/confirm")).json()["status"] == "CONFIRMED"
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/cancel")
    assert r.status_code == 409 and r.json()["code"] == "deposit.already_confirmed"

    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/revert")
    assert r.status_code == 200 and r.json()["status"] == "REVERTED"
    assert (await stack.http.post(f"{API}/withdrawals/{w['id']}/revert")).json()["status"] == "REVERTED"
    assert (await balance(stack, acct))["available"] == 100_00
    assert (await ledger_counts(stack.engine, acct))["templates"] == {
        "RECORD_DEPOSIT": 1, "INITIATE_WITHDRAW": 1, "CONFIRM_WITHDRAW": 1, "REVERT_WITHDRAW": 1}
    assert await omnibus_settled(stack.engine) == 100_00
    audit = (await stack.http.get(f"{API}/audit-entries", params={
        "action": "deposit:withdrawal:conclude-approval-process"})).json()["items"]
    assert [(e["subject"], e["object"]) for e in audit] == [("system:deposit-approval",
                                                             f"deposit/withdrawal/{w['id']}")]
    # same reference again: the original, no second reservation
    again = await withdraw(stack, acct, 30_00, reference="payout-1")
    assert again.status_code == 200 and again.json()["id"] == w["id"]


async def test_denied_releases_the_reservation(stack):
    acct, voter = await _one_voter_committee(stack)
    w = (await withdraw(stack, acct, 40_00)).json()
    await _approval_started(stack, w["id"])
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/confirm")
    assert r.status_code == 409 and r.json()["code"] == "deposit.not_approved"
    assert "PENDING_APPROVAL" in r.json()["detail"]
    r = await voter.post(f"{API}/approval-processes/{w['id']}/deny", json={"reason": "sanctions hit"})
    assert r.status_code == 200, r.text
    assert await stack.client.get_workflow_handle(withdrawal_workflow_id(w["id"])).result() == "DENIED"
    assert (await stack.http.get(f"{API}/withdrawals/{w['id']}")).json()["status"] == "DENIED"
    assert await balance(stack, acct) == {"currency": "USD", "settled": 100_00, "pending": 0,
                                          "available": 100_00, "frozen": 0}
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/cancel")  # W1: no second release
    assert r.status_code == 409 and r.json()["code"] == "deposit.invalid_withdrawal_state"
    assert (await ledger_counts(stack.engine, acct))["templates"] == {
        "RECORD_DEPOSIT": 1, "INITIATE_WITHDRAW": 1, "DENY_WITHDRAW": 1}


async def test_cancelled_before_and_after_approval(stack):
    acct, voter = await _one_voter_committee(stack)
    w = (await withdraw(stack, acct, 25_00)).json()
    await _approval_started(stack, w["id"])
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED", r.text
    assert (await balance(stack, acct))["available"] == 100_00
    # the cancellation ended the approval process: a late vote is refused and nothing is posted
    r = await voter.post(f"{API}/approval-processes/{w['id']}/approve")
    assert r.status_code == 409 and r.json()["code"] == "governance.approval_process_cancelled"
    assert await stack.client.get_workflow_handle(withdrawal_workflow_id(w["id"])).result() == "CANCELLED"
    body = (await stack.http.get(f"{API}/withdrawals/{w['id']}")).json()
    assert body["status"] == "CANCELLED" and body["approved"] is None
    assert (await ledger_counts(stack.engine, acct))["templates"] == {
        "RECORD_DEPOSIT": 1, "INITIATE_WITHDRAW": 1, "CANCEL_WITHDRAW": 1}
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/confirm")
    assert r.status_code == 409 and r.json()["code"] == "deposit.already_cancelled"


async def test_cancel_after_approval(stack):
    acct = await _funded(stack)
    w = (await withdraw(stack, acct, 10_00)).json()
    await wait_status(stack, w["id"], "PENDING_CONFIRMATION")
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    assert await stack.client.get_workflow_handle(withdrawal_workflow_id(w["id"])).result() == "CANCELLED"
    assert (await balance(stack, acct))["available"] == 100_00
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/revert")
    assert r.status_code == 409 and r.json()["code"] == "deposit.already_cancelled"


async def test_over_balance_is_refused_before_anything_is_reserved(stack):
    acct = await _funded(stack, 50_00)
    r = await withdraw(stack, acct, 50_01)
    assert r.status_code == 422 and r.json()["code"] == "deposit.insufficient_funds", r.text
    assert (await stack.http.get(f"{API}/withdrawals")).json()["items"] == []
    assert await balance(stack, acct) == {"currency": "USD", "settled": 50_00, "pending": 0,
                                          "available": 50_00, "frozen": 0}
    assert (await ledger_counts(stack.engine, acct))["templates"] == {"RECORD_DEPOSIT": 1}


async def test_two_concurrent_withdrawals_exceeding_the_balance_reserve_exactly_one(stack):
    acct = await _funded(stack, 100_00)
    results = await asyncio.gather(*(withdraw(stack, acct, 60_00) for _ in range(2)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 422], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 422)
    assert loser.json()["code"] == "deposit.insufficient_funds"
    assert len((await stack.http.get(f"{API}/withdrawals")).json()["items"]) == 1
    assert (await balance(stack, acct))["available"] == 40_00
    assert (await ledger_counts(stack.engine, acct))["templates"]["INITIATE_WITHDRAW"] == 1
    # a burst: 10 concurrent withdrawals of 15.00 on the remaining 40.00 → exactly two reserved
    burst = await asyncio.gather(*(withdraw(stack, acct, 15_00) for _ in range(10)))
    assert sorted(r.status_code for r in burst) == [201] * 2 + [422] * 8
    assert (await balance(stack, acct))["available"] == 10_00
    assert (await ledger_counts(stack.engine, acct))["templates"]["INITIATE_WITHDRAW"] == 3


async def test_frozen_account_refuses_confirm_until_unfrozen(stack):
    acct = await _funded(stack)
    w = (await withdraw(stack, acct, 20_00)).json()
    await wait_status(stack, w["id"], "PENDING_CONFIRMATION")
    assert (await stack.http.post(f"{API}/deposit-accounts/{acct}/freeze")).status_code == 200
    assert await balance(stack, acct) == {"currency": "USD", "settled": 100_00, "pending": 20_00,
                                          "available": 0, "frozen": 80_00}
    for op in ("confirm", "cancel"):
        r = await stack.http.post(f"{API}/withdrawals/{w['id']}/{op}")
        assert r.status_code == 409 and r.json()["code"] == "deposit.deposit_account_frozen", r.text
        assert "FROZEN" in r.json()["detail"]
    assert (await stack.http.post(f"{API}/deposit-accounts/{acct}/unfreeze")).status_code == 200
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "CONFIRMED"
    assert (await balance(stack, acct))["available"] == 80_00


async def test_denial_on_a_frozen_account_waits_for_unfreeze_then_releases(stack, ts_env):
    """The release of a denied withdrawal hits the frozen (locked) account: the workflow neither fails
    nor retries the refused posting in a loop; it waits on a timer and releases after unfreeze."""
    acct, voter = await _one_voter_committee(stack)
    w = (await withdraw(stack, acct, 30_00)).json()
    await _approval_started(stack, w["id"])
    assert (await stack.http.post(f"{API}/deposit-accounts/{acct}/freeze")).status_code == 200
    r = await voter.post(f"{API}/approval-processes/{w['id']}/deny", json={"reason": "no"})
    assert r.status_code == 200, r.text
    handle = stack.client.get_workflow_handle(withdrawal_workflow_id(w["id"]))
    for _ in range(200):
        if "unfrozen" in ((await handle.query(WithdrawalWorkflow.current)).waiting_for or ""):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the workflow never showed that it waits for the unfreeze")
    assert (await stack.http.get(f"{API}/withdrawals/{w['id']}")).json()["status"] == "PENDING_APPROVAL"
    assert (await balance(stack, acct))["pending"] == 30_00
    assert (await stack.http.post(f"{API}/deposit-accounts/{acct}/unfreeze")).status_code == 200
    await ts_env.sleep(timedelta(minutes=5))  # the next try (test server's clock)
    await wait_status(stack, w["id"], "DENIED")
    assert await balance(stack, acct) == {"currency": "USD", "settled": 100_00, "pending": 0,
                                          "available": 100_00, "frozen": 0}


async def test_approval_process_id_is_readable_at_once(stack):
    """Regression (new-user #3): the process was created later, by the workflow, and answered 404."""
    acct, _ = await _one_voter_committee(stack)
    # no worker on this queue: nothing but the API's own transaction can have created the process
    stack.app.state.settings = stack.settings.model_copy(update={"temporal_task_queue": f"none-{uuid.uuid4().hex[:6]}"})
    r = await withdraw(stack, acct, 10_00)
    assert r.status_code == 201, r.text
    pid = r.json()["approval_process_id"]
    r = await stack.http.get(f"{API}/approval-processes/{pid}")
    assert r.status_code == 200 and r.json()["status"] == "IN_PROGRESS", r.text


async def test_cancel_while_awaiting_approval_ends_the_approval_process(stack):
    """Regression (new-user #5): the process stayed open for votes after its withdrawal was cancelled."""
    ids, voters = await _members(stack, 2)
    await _committee_policy(stack.http, ids, threshold=2)
    acct = await _funded(stack)
    w = (await withdraw(stack, acct, 25_00)).json()
    await _approval_started(stack, w["id"])
    r = await stack.http.post(f"{API}/withdrawals/{w['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED", r.text
    process = (await stack.http.get(f"{API}/approval-processes/{w['id']}")).json()
    assert process["status"] == "CANCELLED" and "cancelled" in process["ended_reason"]
    r = await voters[0].post(f"{API}/approval-processes/{w['id']}/approve")
    assert r.status_code == 409 and r.json()["code"] == "governance.approval_process_cancelled", r.text
    approval = stack.client.get_workflow_handle(approval_workflow_id(w["id"]))
    assert await approval.result() == "cancelled"
    assert await stack.client.get_workflow_handle(withdrawal_workflow_id(w["id"])).result() == "CANCELLED"
    assert await balance(stack, acct) == {"currency": "USD", "settled": 100_00, "pending": 0,
                                          "available": 100_00, "frozen": 0}
    entries = (await stack.http.get(f"{API}/audit-entries", params={"first": 100})).json()["items"]
    assert any(e["object"] == f"governance/approval-process/{w['id']}" and
               e["action"] == "governance:approval-process:conclude" for e in entries)


async def test_worker_crash_between_reservation_and_approval(stack):
    """Stop the worker while the withdrawal waits for its vote; a new worker finishes it and the
    ledger holds exactly what one execution posts."""
    acct, voter = await _one_voter_committee(stack)
    tq = f"crash-{uuid.uuid4().hex[:8]}"
    stack.app.state.settings = stack.settings.model_copy(update={"temporal_task_queue": tq})
    deps = Deps(engine=stack.engine, settings=stack.settings)

    def new_worker():
        return build_worker(stack.client, deps, tq, max_cached_workflows=0)

    async with new_worker():
        w = (await withdraw(stack, acct, 45_00)).json()
        await _approval_started(stack, w["id"])
    # no worker: the reservation holds, nothing else moved
    assert (await stack.http.get(f"{API}/withdrawals/{w['id']}")).json()["status"] == "PENDING_APPROVAL"
    assert (await balance(stack, acct))["available"] == 55_00
    async with new_worker():
        assert (await voter.post(f"{API}/approval-processes/{w['id']}/approve")).status_code == 200
        await wait_status(stack, w["id"], "PENDING_CONFIRMATION")
        r = await stack.http.post(f"{API}/withdrawals/{w['id']}/confirm")
        assert r.status_code == 200 and r.json()["status"] == "CONFIRMED", r.text
        assert await stack.client.get_workflow_handle(withdrawal_workflow_id(w["id"])).result() == "CONFIRMED"
    assert await balance(stack, acct) == {"currency": "USD", "settled": 55_00, "pending": 0,
                                          "available": 55_00, "frozen": 0}
    assert await ledger_counts(stack.engine, acct) == {
        "templates": {"RECORD_DEPOSIT": 1, "INITIATE_WITHDRAW": 1, "CONFIRM_WITHDRAW": 1}, "entries": 1 + 2 + 1}
    assert await omnibus_settled(stack.engine) == 55_00


async def test_every_step_activity_is_idempotent_when_retried(stack):
    acct = await _funded(stack)
    acts = WithdrawalActivities(stack.engine)
    denied, confirmed, cancelled = (str(uuid.uuid4()) for _ in range(3))
    async with stack.engine.begin() as conn:
        for wid in (denied, confirmed, cancelled):
            await initiate_withdrawal(conn, wid, acct, 10_00, None, "user:test")
    for _ in range(2):  # a retry after a crash that lost the first completion
        assert (await acts.conclude_approval(ConcludeApproval(withdrawal_id=denied, approved=False))).status == "DENIED"
        await acts.conclude_approval(ConcludeApproval(withdrawal_id=confirmed, approved=True))
        assert (await acts.confirm(WithdrawalCommand(withdrawal_id=confirmed, actor="user:t"))).status == "CONFIRMED"
        assert (await acts.cancel(WithdrawalCommand(withdrawal_id=cancelled, actor="user:t"))).status == "CANCELLED"
    assert (await ledger_counts(stack.engine, acct))["templates"] == {
        "RECORD_DEPOSIT": 1, "INITIATE_WITHDRAW": 3, "DENY_WITHDRAW": 1, "CONFIRM_WITHDRAW": 1,
        "CANCEL_WITHDRAW": 1}
    assert await balance(stack, acct) == {"currency": "USD", "settled": 90_00, "pending": 0,
                                          "available": 90_00, "frozen": 0}


async def test_workflow_query_shows_state(stack):
    acct, _ = await _one_voter_committee(stack)
    w = (await withdraw(stack, acct, 5_00)).json()
    await _approval_started(stack, w["id"])
    state = await stack.client.get_workflow_handle(withdrawal_workflow_id(w["id"])).query(WithdrawalWorkflow.current)
    assert (state.status, state.amount, state.account_id) == ("PENDING_APPROVAL", 5_00, acct)
