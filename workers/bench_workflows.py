"""Workflows for benchmarks only (`lana bench credit`), never registered in the production worker:
the bench passes them with ``build_worker(..., extra_workflows=[NoopWorkflow])``."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn
class NoopWorkflow:
    """Does nothing: the baseline rate of a bare workflow on a given server and worker."""

    @workflow.run
    async def run(self) -> None:
        return None
