"""Workflows for benchmarks only (`lana bench credit`), never registered in the production worker:
the bench passes them with ``build_worker(..., extra_workflows=[...])`` or runs them on a worker of
their own.

``SkeletonFacilityWorkflow`` has the Temporal shape of one facility in the bench
(``workflows/credit_facility.py`` with the automatic approval policy) and none of its work: one
start, the Updates ``customer_decision``, ``update_collateral`` and ``initiate_disbursal`` under a
lock with the command options, the two approval processes' start steps, the same eight activities
under the same names, each a no-op (``SKELETON_ACTIVITIES``, on a task queue of their own), and the
same five search-attribute upserts. Unlike the facility it ends when its disbursal is concluded, so
the client waits on the result instead of polling a read model. Its rate is what Temporal, the SDK
and the sandbox cost for that shape on this machine; the facility's rate as a fraction of it is
what our own code leaves of it.
"""

from __future__ import annotations

import asyncio

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from activities.boundary import ACTIVITY_OPTIONS, COMMAND_OPTIONS
    from workflows.search_attributes import (
        LANA_COLLATERALIZATION,
        LANA_CUSTOMER_ID,
        LANA_ENTITY_ID,
        LANA_PROCESS_TYPE,
        LANA_STATUS,
    )


@workflow.defn
class NoopWorkflow:
    """Does nothing: the baseline rate of a bare workflow on a given server and worker."""

    @workflow.run
    async def run(self) -> None:
        return None


# The activities one bench facility runs, by the names the facility's workflows give them.
SKELETON_STEPS = (
    "credit.conclude_customer_approval", "governance.start_approval_process", "credit.conclude_proposal",
    "credit.record_collateral", "credit.activate", "credit.initiate_disbursal", "credit.conclude_disbursal",
)


def _noop_activity(name: str):
    @activity.defn(name=name)
    async def step(facility_id: str) -> str:
        return facility_id

    return step


SKELETON_ACTIVITIES = [_noop_activity(name) for name in SKELETON_STEPS]


@workflow.defn
class SkeletonFacilityWorkflow:
    @workflow.init
    def __init__(self, facility_id: str) -> None:
        self.id = facility_id
        self.stage = "PENDING_CUSTOMER_APPROVAL"
        self.lock = asyncio.Lock()
        self.concluded = False
        self.tasks: list[asyncio.Task] = []

    @workflow.run
    async def run(self, facility_id: str) -> str:
        self._publish()
        await workflow.wait_condition(lambda: self.stage != "PENDING_CUSTOMER_APPROVAL")
        await self._step("governance.start_approval_process")  # automatic policy: no child workflow
        await self._step("credit.conclude_proposal")
        self._set("PENDING_COLLATERALIZATION")
        await workflow.wait_condition(lambda: self.concluded and workflow.all_handlers_finished())
        return self.stage

    async def _step(self, name: str, options: dict = ACTIVITY_OPTIONS) -> str:
        return await workflow.execute_activity(name, self.id, **options)

    def _set(self, stage: str) -> None:
        self.stage = stage
        self._publish()

    def _publish(self) -> None:
        workflow.upsert_search_attributes([
            LANA_ENTITY_ID.value_set(self.id), LANA_CUSTOMER_ID.value_set(self.id),
            LANA_PROCESS_TYPE.value_set("skeleton-facility"), LANA_STATUS.value_set(self.stage),
            LANA_COLLATERALIZATION.value_set("NotYetCollateralized")])
        workflow.set_current_details(f"**skeleton facility** {self.stage}")

    @workflow.update
    async def customer_decision(self) -> str:
        async with self.lock:
            await self._step("credit.conclude_customer_approval", COMMAND_OPTIONS)
            self._set("PENDING_APPROVAL")
            return self.stage

    @workflow.update
    async def update_collateral(self) -> str:
        # the bench's client polls the read model for the pending facility; here the Update waits
        await workflow.wait_condition(lambda: self.stage == "PENDING_COLLATERALIZATION")
        async with self.lock:
            await self._step("credit.record_collateral", COMMAND_OPTIONS)
            self._set("FULLY_COLLATERALIZED")
            await self._step("credit.activate", COMMAND_OPTIONS)
            self._set("ACTIVE")
            return self.stage

    @workflow.update
    async def initiate_disbursal(self) -> str:
        async with self.lock:
            await self._step("credit.initiate_disbursal", COMMAND_OPTIONS)
        self.tasks.append(asyncio.create_task(self._conclude_disbursal()))
        return self.stage

    async def _conclude_disbursal(self) -> None:
        await self._step("governance.start_approval_process")
        await self._step("credit.conclude_disbursal")
        self.concluded = True
