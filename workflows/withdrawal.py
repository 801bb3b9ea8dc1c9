"""Withdrawal: reservation done by the API, then approval, then the operator's confirm or cancel.

Workflow id ``withdrawal-{id}``. The API has already reserved the funds (INITIATE_WITHDRAW in the
same DB transaction as the withdrawal's first event) before starting this workflow, so an
over-balance request is refused synchronously. The workflow:

1. asks governance (``request_approval("withdraw", id, ...)``) and waits for the decision;
2. records it (activity ``conclude_approval``): denied → DENY_WITHDRAW releases the reservation;
   approved → PENDING_CONFIRMATION; a withdrawal cancelled meanwhile stays CANCELLED (rule W2);
3. when approved, waits for the operator's ``confirm`` (CONFIRM_WITHDRAW: the funds leave) or
   ``cancel`` (CANCEL_WITHDRAW: released) Update. ``cancel`` is also accepted while awaiting approval.

Every step's posting has an idempotency key ``withdrawal:{id}:<step>`` and is made in the same DB
transaction as the event that records it, so a worker crash and retry at any step leaves the ledger
exactly as one execution would. Reverting a confirmed withdrawal happens after the workflow has
completed and is done by the API directly. Visible in the Web UI through the search attributes
LanaAccountId, LanaCustomerId, LanaStatus (and LanaEntityId, LanaProcessType=withdrawal), the
current details line, and the ``current`` query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

with workflow.unsafe.imports_passed_through():
    from activities.boundary import ACTIVITY_OPTIONS, check, refusal_of
    from activities.deposits.activity import WithdrawalActivities
    from domain.deposits.messages import ConcludeApproval, WithdrawalCommand, WithdrawalStart, WithdrawalState
    from domain.deposits.model import RESERVED, Withdrawal, WithdrawalStatus
    from domain.errors import ServiceUnavailable
    from domain.governance.voting import ApprovalStatus
    from workflows.approval_process import end_approval, request_approval
    from workflows.search_attributes import (
        LANA_ACCOUNT_ID,
        LANA_CUSTOMER_ID,
        LANA_ENTITY_ID,
        LANA_PROCESS_TYPE,
        LANA_STATUS,
    )



def withdrawal_workflow_id(withdrawal_id: str) -> str:
    return f"withdrawal-{withdrawal_id}"


@workflow.defn
class WithdrawalWorkflow:
    @workflow.init
    def __init__(self, inp: WithdrawalStart) -> None:
        self.inp = inp
        self.lock = asyncio.Lock()
        self.state = WithdrawalState(withdrawal_id=inp.withdrawal_id, account_id=inp.account_id,
                                     amount=inp.amount, status=WithdrawalStatus.PENDING_APPROVAL.value)

    @workflow.run
    async def run(self, inp: WithdrawalStart) -> str:
        wid = inp.withdrawal_id
        self._publish()
        async with self.lock:  # the stored state wins (e.g. cancelled before this run started)
            self.state = await workflow.execute_activity_method(WithdrawalActivities.state, wid, **ACTIVITY_OPTIONS)
            self._publish()
        if self.state.approved is None and self.state.status in (WithdrawalStatus.PENDING_APPROVAL,
                                                                 WithdrawalStatus.CANCELLED):
            decision = await request_approval("withdraw", wid, f"withdrawal:{wid}")
            if decision != ApprovalStatus.CANCELLED:  # cancelled: the withdrawal ended first
                await self._conclude(ConcludeApproval(
                    withdrawal_id=wid, approved=decision == ApprovalStatus.APPROVED,
                    workflow_id=workflow.info().workflow_id))
        await workflow.wait_condition(lambda: self.state.status not in RESERVED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state.status

    async def _conclude(self, req: ConcludeApproval) -> None:
        """Record governance's decision. A denial on a frozen account cannot release the reservation
        (the main ledger account is locked): the workflow waits, visibly and without holding its
        lock, and tries again with a growing pause (customers-deposits.md §8.3)."""
        pause = timedelta(minutes=1)
        while True:
            try:
                async with self.lock:
                    self.state = await workflow.execute_activity_method(
                        WithdrawalActivities.conclude_approval, req, **ACTIVITY_OPTIONS)
                    self._publish()
                    return
            except ActivityError as exc:
                refusal = refusal_of(exc)
                if refusal is None or refusal.type != "ledger.account_locked":
                    raise
            self.state.waiting_for = f"denied: the release waits for the deposit account to be unfrozen (next try in {pause})"
            workflow.set_current_details(f"**withdrawal** {self.state.amount} cents: {self.state.waiting_for}")
            await workflow.sleep(pause)
            pause = min(pause * 2, timedelta(hours=6))

    @workflow.query
    def current(self) -> WithdrawalState:
        return self.state

    @workflow.update
    async def confirm(self, actor: str) -> WithdrawalState:
        return await self._command(Withdrawal.check_confirm, WithdrawalActivities.confirm, actor)

    @confirm.validator
    def validate_confirm(self, actor: str) -> None:
        self._check(Withdrawal.check_confirm)

    @workflow.update
    async def cancel(self, actor: str) -> WithdrawalState:
        awaiting_approval = self.state.approved is None
        state = await self._command(Withdrawal.check_cancel, WithdrawalActivities.cancel, actor)
        if awaiting_approval and state.status == WithdrawalStatus.CANCELLED:
            await end_approval(state.withdrawal_id, f"withdrawal cancelled by {actor}")
        return state

    @cancel.validator
    def validate_cancel(self, actor: str) -> None:
        self._check(Withdrawal.check_cancel)

    async def _command(self, rule: Callable[[Withdrawal], bool], activity, actor: str) -> WithdrawalState:
        async with self.lock:  # one step at a time, in arrival order
            if not self._check(rule):
                return self.state
            self.state = await workflow.execute_activity_method(
                activity, WithdrawalCommand(withdrawal_id=self.state.withdrawal_id, actor=actor,
                                            workflow_id=workflow.info().workflow_id), **ACTIVITY_OPTIONS)
            self._publish()
            return self.state

    def _check(self, rule: Callable[[Withdrawal], bool]) -> bool:
        """The domain's rule on the workflow's view of the state; errors carry the stable code."""
        w = Withdrawal(id=self.state.withdrawal_id, status=WithdrawalStatus(self.state.status),
                       approved=self.state.approved)
        return check(rule, w)

    def _publish(self) -> None:
        workflow.upsert_search_attributes([
            LANA_ENTITY_ID.value_set(self.inp.withdrawal_id), LANA_ACCOUNT_ID.value_set(self.inp.account_id),
            LANA_CUSTOMER_ID.value_set(self.inp.customer_id), LANA_PROCESS_TYPE.value_set("withdrawal"),
            LANA_STATUS.value_set(self.state.status),
        ])
        workflow.set_current_details(f"**withdrawal** {self.state.amount} cents: {self.state.status}")


async def start_withdrawal_workflow(client: Client, task_queue: str, row, customer_id: str) -> None:
    """Start the withdrawal's workflow; a repeat reaches the running (or finished) one."""
    wid = str(row.id)
    try:
        await client.start_workflow(
            WithdrawalWorkflow.run,
            WithdrawalStart(withdrawal_id=wid, account_id=str(row.deposit_account_id), customer_id=customer_id,
                            amount=row.amount),
            id=withdrawal_workflow_id(wid), task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(LANA_ENTITY_ID, wid),
                SearchAttributePair(LANA_ACCOUNT_ID, str(row.deposit_account_id)),
                SearchAttributePair(LANA_CUSTOMER_ID, customer_id), SearchAttributePair(LANA_STATUS, row.status)]))
    except WorkflowAlreadyStartedError:
        return  # an earlier run completed: nothing left to drive
    except RPCError as exc:
        raise ServiceUnavailable("Temporal is unreachable; the withdrawal is reserved, retry to resume it.") from exc
