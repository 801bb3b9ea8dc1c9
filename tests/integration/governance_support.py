"""A stand-in operation workflow that needs approval, as withdrawals and disbursals will."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.approval_process import request_approval


@workflow.defn
class NeedsApprovalWorkflow:
    @workflow.run
    async def run(self, args: list[str]) -> str:
        process_type, process_id, target = args
        status = await request_approval(process_type, process_id, target)
        return status.value
