"""ApprovalProcess: one workflow per process awaiting committee votes.

Votes arrive as Temporal Updates. The validator runs the pure domain rule, so an ineligible voter,
a second vote, a deny without reason or a late vote is rejected before anything reaches history.
Accepted votes are persisted by an activity (events + read model under a row lock) before the
workflow's own state changes; the workflow ends when the process concludes and returns the status
to its parent (the operation's workflow: withdrawal, disbursal, facility proposal).
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.boundary import ACTIVITY_OPTIONS, check
    from activities.governance.activity import GovernanceActivities, RecordVote, StartApproval
    from domain.governance.voting import ApprovalState, ApprovalStatus, Vote, cancel, check_vote
    from workflows.search_attributes import LANA_ENTITY_ID, LANA_PROCESS_TYPE, LANA_STATUS



class VoteInput(BaseModel):
    voter_id: str
    approve: bool
    reason: str | None = None


@workflow.defn
class ApprovalProcessWorkflow:
    @workflow.init
    def __init__(self, state: ApprovalState) -> None:
        # State comes from the start input, so a vote delivered in the very first activation (before
        # ``run`` has begun) is validated against the real process, never against ``None``.
        self.state: ApprovalState = state
        self.lock = asyncio.Lock()

    @workflow.run
    async def run(self, state: ApprovalState) -> ApprovalStatus:
        self._publish()
        await workflow.wait_condition(lambda: self.state.status != ApprovalStatus.IN_PROGRESS)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state.status

    @workflow.signal
    def subject_ended(self, reason: str) -> None:
        """The subject ended first (already recorded as ``cancelled`` by its activity): conclude, so
        later votes are refused and the parent's wait ends."""
        if self.state.status == ApprovalStatus.IN_PROGRESS:
            self.state = cancel(self.state, reason)
            self._publish()

    @workflow.query
    def current(self) -> ApprovalState:
        return self.state

    @workflow.update
    async def vote(self, inp: VoteInput) -> ApprovalState:
        async with self.lock:  # votes are applied one at a time, in arrival order
            check(check_vote, self.state, inp.voter_id, inp.approve, inp.reason)
            vote = Vote(voter_id=inp.voter_id, approve=inp.approve, reason=inp.reason, voted_at=workflow.now())
            self.state = await workflow.execute_activity_method(
                GovernanceActivities.record_vote,
                RecordVote(process_id=self.state.process_id, vote=vote),
                **ACTIVITY_OPTIONS,
            )
            self._publish()
            return self.state

    @vote.validator
    def validate_vote(self, inp: VoteInput) -> None:
        check(check_vote, self.state, inp.voter_id, inp.approve, inp.reason)

    def _publish(self) -> None:
        workflow.upsert_search_attributes([
            LANA_ENTITY_ID.value_set(self.state.target_ref),
            LANA_PROCESS_TYPE.value_set(self.state.process_type),
            LANA_STATUS.value_set(self.state.status.value),
        ])
        workflow.set_current_details(
            f"**{self.state.process_type}** {self.state.status.value}: "
            f"{self.state.approvals}/{self.state.threshold} approvals, {len(self.state.votes)} vote(s)"
        )


def approval_workflow_id(process_id: str) -> str:
    return f"approval-{process_id}"


async def end_approval(process_id: str, reason: str) -> None:
    """Called from an operation's workflow whose subject ended while its approval was open (the
    operation's activity has already recorded the process as cancelled): stop the child."""
    try:
        await workflow.get_external_workflow_handle(approval_workflow_id(process_id)).signal(
            ApprovalProcessWorkflow.subject_ended, reason)
    except Exception:  # noqa: BLE001 - no child running (never started, or already concluded)
        workflow.logger.info("approval process %s had no running workflow to end", process_id)


async def request_approval(process_type: str, process_id: str, target_ref: str) -> ApprovalStatus:
    """Called from an operation's workflow: start (or find) the process and wait for its outcome."""
    state: ApprovalState = await workflow.execute_activity_method(
        GovernanceActivities.start_approval_process,
        StartApproval(process_id=process_id, process_type=process_type, target_ref=target_ref),
        **ACTIVITY_OPTIONS,
    )
    if state.status != ApprovalStatus.IN_PROGRESS:
        return state.status
    return await workflow.execute_child_workflow(
        ApprovalProcessWorkflow.run, state, id=approval_workflow_id(process_id),
    )
