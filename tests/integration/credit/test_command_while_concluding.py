"""A command sent while the approved proposal's conclusion is in flight: the conclusion's activity
has committed the pending facility (the API shows it) before the workflow has its result, so the
command is let in and applied once the step ends, never refused for the stage the client has
already seen replaced. The facility's activities are faked under their names (no database)."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.client import WorkflowUpdateStage
from temporalio.worker import Worker

from activities.governance.activity import StartApproval
from domain.credit.messages import (
    CollateralCommand,
    CollateralInput,
    ConcludeProposal,
    FacilityChange,
    FacilityState,
)
from domain.credit.status import PendingStatus, ProposalStatus, Stage
from domain.governance.voting import ApprovalState, ApprovalStatus
from tests.credit_fixtures import terms
from workers.worker import SANDBOX
from workflows.credit_facility import CreditFacilityWorkflow


async def test_a_collateral_update_sent_while_the_approved_proposal_concludes_is_applied_after_it(ts_env):
    proposal = FacilityState(id=str(uuid.uuid4()), customer_id=str(uuid.uuid4()), customer_type="Individual",
                             amount_cents=100_000, terms=terms(customer_acceptance_required=False),
                             collateral_id=str(uuid.uuid4()), deposit_account_id=str(uuid.uuid4()), version=1)
    pending = proposal.model_copy(update={"stage": Stage.PENDING, "proposal_status": ProposalStatus.APPROVED,
                                          "pending_status": PendingStatus.PENDING_COLLATERALIZATION, "version": 2})
    concluding, release = asyncio.Event(), asyncio.Event()
    recorded: list[int] = []

    @activity.defn(name="governance.start_approval_process")
    async def start_approval(inp: StartApproval) -> ApprovalState:
        return ApprovalState(process_id=inp.process_id, process_type=inp.process_type, target_ref=inp.target_ref,
                             eligible=[], threshold=0, status=ApprovalStatus.APPROVED)

    @activity.defn(name="credit.conclude_proposal")
    async def conclude_proposal(inp: ConcludeProposal) -> FacilityState:
        concluding.set()  # the row is committed here; the workflow learns it when this returns
        await release.wait()
        return pending

    @activity.defn(name="credit.record_collateral")
    async def record_collateral(inp: CollateralInput) -> FacilityState:
        recorded.append(inp.collateral_sats)
        return pending.model_copy(update={"collateral_sats": inp.collateral_sats, "collateral_seq": inp.seq,
                                          "version": 3})

    queue = f"q-{uuid.uuid4().hex}"
    async with Worker(ts_env.client, task_queue=queue, workflows=[CreditFacilityWorkflow],
                      activities=[start_approval, conclude_proposal, record_collateral], workflow_runner=SANDBOX):
        handle = await ts_env.client.start_workflow(CreditFacilityWorkflow.run, proposal,
                                                    id=f"credit-facility-{proposal.id}", task_queue=queue)
        await asyncio.wait_for(concluding.wait(), 10)
        update = await handle.start_update(  # accepted: before, the validator refused it (stage PROPOSAL)
            CreditFacilityWorkflow.update_collateral, CollateralCommand(collateral_sats=1_000, actor="user:op"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        await asyncio.sleep(0.3)
        assert recorded == []  # it waits for the conclusion
        release.set()
        state = FacilityChange.model_validate(await asyncio.wait_for(update.result(), 10))
        assert (state.stage, state.collateral_sats, recorded) == (Stage.PENDING, 1_000, [1_000])
        await handle.terminate()
