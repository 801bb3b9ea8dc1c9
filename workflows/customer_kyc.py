"""The customer's KYC workflow: SumSub notices arrive as signals (signal-with-start).

Workflow id ``customer-kyc-{customer_id}``. Each notice carries SumSub's event identity; the
workflow drops duplicates it has seen in this run and the activity drops those already applied
(durable, on the customer's events), so replayed or late webhooks are harmless. It works through
its queue in order, waits a little for more, then completes; the next webhook starts a new run.
When Temporal suggests continue-as-new, or notices arrive while the run is ending, the run continues
as new with the notices not yet applied in its input (``KycWorkflowInput.pending``), which the next
run's ``@workflow.init`` queues before any signal it receives.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.customers.activity import CustomerKycActivities
    from domain.customers.messages import DepositAccountsRequest, KycLinkRequest, KycWorkflowInput
    from domain.customers.sumsub import KycNotice
    from workflows.search_attributes import LANA_CUSTOMER_ID, LANA_ENTITY_ID, LANA_PROCESS_TYPE

DB_TIMEOUT = timedelta(seconds=30)


def kyc_workflow_id(customer_id: str) -> str:
    return f"customer-kyc-{customer_id}"


@workflow.defn
class CustomerKycWorkflow:
    @workflow.init
    def __init__(self, inp: KycWorkflowInput) -> None:
        # State comes from the input before any signal handler runs: the notices a previous run handed
        # over (continue-as-new) come first, then those signalled to this run, in arrival order.
        self._queue: list[KycNotice] = list(inp.pending)
        self._seen: set[str] = {n.event_id for n in inp.pending}

    @workflow.signal(name="kyc_notice")
    def kyc_notice(self, notice: KycNotice) -> None:
        if notice.event_id not in self._seen:
            self._seen.add(notice.event_id)
            self._queue.append(notice)

    @workflow.run
    async def run(self, inp: KycWorkflowInput) -> int:
        customer_id = inp.customer_id
        workflow.upsert_search_attributes([
            LANA_CUSTOMER_ID.value_set(customer_id), LANA_ENTITY_ID.value_set(customer_id),
            LANA_PROCESS_TYPE.value_set("customer-kyc"),
        ])
        applied = 0
        while True:
            if not self._queue:
                if inp.idle_seconds <= 0:
                    break
                try:
                    await workflow.wait_condition(lambda: bool(self._queue),
                                                  timeout=timedelta(seconds=inp.idle_seconds))
                except TimeoutError:
                    break
            notice = self._queue.pop(0)
            action = await workflow.execute_activity_method(
                CustomerKycActivities.apply_kyc_notice, notice, start_to_close_timeout=DB_TIMEOUT)
            applied += 1
            if action:
                await workflow.execute_activity_method(
                    CustomerKycActivities.apply_kyc_to_deposit_accounts,
                    DepositAccountsRequest(customer_id, action, f"kyc:{notice.review_answer}",
                                           f"customer:{customer_id}:kyc:{notice.event_id}:{action}"),
                    start_to_close_timeout=DB_TIMEOUT)
            if workflow.info().is_continue_as_new_suggested():
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._queue:  # arrived while this run was ending: the next run applies them, none is dropped
            workflow.continue_as_new(dataclasses.replace(inp, pending=tuple(self._queue)))
        return applied


@workflow.defn
class KycLinkWorkflow:
    """Create a SumSub applicant (once) and a verification link; the API waits for the url."""

    @workflow.run
    async def run(self, req: KycLinkRequest) -> str:
        return await workflow.execute_activity_method(
            CustomerKycActivities.create_kyc_link, req, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1)))
