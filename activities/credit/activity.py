"""Temporal activities of the credit module: thin adapters, one transaction each (``operations``).

``CreditFacilityActivities`` serve the ``CreditFacility`` workflow; ``CollateralizationActivities``
serve the price re-evaluation (credit.md §3.4/§3.6): ``price_pass`` reads only the facilities whose
stored trigger price the new price crossed, records their new states set-based and signals just
those workflows (``collateralization.py``); a pending facility that became fully collateralized is
signalled to activate its own locked row. ``facilities_crossing_thresholds`` (the earlier pass, a
dry run now) and ``reevaluate_collateralization`` (one facility) stay for runs recorded before.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.boundary import lana_activity
from activities.credit import collateralization, liquidations, operations, payments
from activities.time.clock import business_now
from domain.credit.liquidation_messages import (
    ApplyProceedsInput,
    CollateralSentInput,
    InitiateLiquidationInput,
    LiquidationInfo,
    LiquidationStepResult,
    ProceedsInput,
)
from domain.credit.messages import (
    ActivateInput,
    CollateralInput,
    CompleteInput,
    ConcludeDisbursal,
    ConcludeProposal,
    CustomerDecisionInput,
    DisbursalInput,
    FacilityChange,
    PaymentInput,
    PaymentOutcome,
    PricePassCursor,
    PricePassInput,
    PricePassResult,
    ReevaluateInput,
)
from domain.errors import ServiceUnavailable
from ground.settings import Settings

LIQUIDATION_WORKFLOW = "LiquidationWorkflow"


def liquidation_workflow_id(liquidation_id: str) -> str:
    return f"liquidation-{liquidation_id}"


def _workflow_id() -> str | None:
    """The calling workflow, for the audit entries of system actions."""
    return activity.info().workflow_id if activity.in_activity() else None


class CreditFacilityActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.max_age = timedelta(seconds=settings.price_max_age_seconds)
        self.kyc_required = settings.kyc_required
        self.settings = settings

    async def _today(self, conn, inp):
        """The step's input with ``now`` on the business clock, and the business date (§12.1): on a
        simulated clock a facility activated after three advances is activated on that date."""
        instant, today = await business_now(conn, self.settings, inp.now)
        return inp.model_copy(update={"now": instant}), today

    @lana_activity("credit.conclude_customer_approval")
    async def conclude_customer_approval(self, inp: CustomerDecisionInput) -> FacilityChange:
        async with self.engine.begin() as conn:
            return (await operations.conclude_customer_approval(conn, inp)).change()

    @lana_activity("credit.conclude_proposal")
    async def conclude_proposal(self, inp: ConcludeProposal) -> FacilityChange:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return (await operations.conclude_proposal(conn, inp, _workflow_id(), today=today)).change()

    @lana_activity("credit.record_collateral")
    async def record_collateral(self, inp: CollateralInput) -> FacilityChange:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return (await operations.record_collateral(conn, inp, self.max_age, today=today)).change()

    @lana_activity("credit.activate")
    async def activate(self, inp: ActivateInput) -> FacilityChange:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return (await operations.activate(conn, inp, self.max_age, _workflow_id(), today=today)).change()

    @lana_activity("credit.initiate_disbursal")
    async def initiate_disbursal(self, inp: DisbursalInput) -> FacilityChange:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return (await operations.initiate_disbursal(conn, inp, self.max_age, kyc_required=self.kyc_required,
                                                        today=today)).change()

    @lana_activity("credit.conclude_disbursal")
    async def conclude_disbursal(self, inp: ConcludeDisbursal) -> FacilityChange:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return (await operations.conclude_disbursal(conn, inp, self.max_age, _workflow_id(), today=today)).change()

    @lana_activity("credit.record_payment")
    async def record_payment(self, inp: PaymentInput) -> PaymentOutcome:
        async with self.engine.begin() as conn:
            return await payments.record_payment(conn, inp, settings=self.settings,
                                                 workflow_id=_workflow_id())

    @lana_activity("credit.complete_facility")
    async def complete_facility(self, inp: CompleteInput) -> FacilityChange:
        async with self.engine.begin() as conn:
            return (await payments.complete_facility(conn, inp, settings=self.settings)).change()


class CollateralizationActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings | None = None) -> None:
        self.engine = engine
        self.settings = settings

    @lana_activity("credit.price_pass")
    async def price_pass(self, inp: PricePassInput) -> PricePassResult:
        """A price event's set-based pass (``collateralization.py``), then its signals. The cursor
        and totals are heartbeated after every page and signal batch: a retried attempt first sends
        what is still undelivered, then resumes at the cursor (pages are idempotent)."""
        details = activity.info().heartbeat_details if activity.in_activity() else None
        cursor = PricePassCursor.model_validate(details[0]) if details else PricePassCursor()
        if inp.concurrency is None:  # read at each call (a bench changes it between events)
            inp = inp.model_copy(update={"concurrency": self.settings.credit_price_pass_concurrency
                                         if self.settings else 1})

        def beat(*_: object) -> None:
            if activity.in_activity():
                activity.heartbeat(cursor)

        if inp.deliver:
            await collateralization.deliver(self.engine, activity.client(), cursor.result, on_batch=beat)
        await collateralization.run_price_pass(self.engine, inp, cursor, on_page=beat)
        if inp.deliver:
            await collateralization.deliver(self.engine, activity.client(), cursor.result, on_batch=beat)
        return cursor.result

    @lana_activity("credit.facilities_crossing_thresholds")
    async def facilities_crossing_thresholds(self, price_cents: int) -> list[str]:
        async with self.engine.connect() as conn:
            return await operations.crossing_ids(conn, price_cents)

    @lana_activity("credit.reevaluate_collateralization")
    async def reevaluate_collateralization(self, inp: ReevaluateInput) -> FacilityChange:
        async with self.engine.begin() as conn:
            return (await operations.reevaluate_collateralization(conn, inp)).change()


class LiquidationActivities:
    """Steps of a partial liquidation (credit.md §9.2–§9.3, ``liquidations.py``)."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @lana_activity("credit.initiate_liquidation")
    async def initiate_liquidation(self, inp: InitiateLiquidationInput) -> LiquidationInfo | None:
        """The liquidation's row and events (one transaction), then, after the commit, its workflow
        started (``liquidation-{id}``): a step retried after a crash between the two finds the open
        row and starts it then, so nothing is lost. Answers the open liquidation (None: none due)."""
        async with self.engine.begin() as conn:
            info = await liquidations.initiate(conn, inp)
        if info is not None and activity.in_activity():
            await start_liquidation_workflow(activity.client(), activity.info().task_queue, info)
        return info

    @lana_activity("credit.liquidation_collateral_sent")
    async def collateral_sent(self, inp: CollateralSentInput) -> LiquidationStepResult:
        async with self.engine.begin() as conn:
            return await liquidations.collateral_sent(conn, inp, settings=self.settings)

    @lana_activity("credit.liquidation_proceeds_received")
    async def proceeds_received(self, inp: ProceedsInput) -> LiquidationStepResult:
        async with self.engine.begin() as conn:
            return await liquidations.receive_proceeds(conn, inp, settings=self.settings)

    @lana_activity("credit.liquidation_apply_proceeds")
    async def apply_proceeds(self, inp: ApplyProceedsInput) -> LiquidationStepResult:
        async with self.engine.begin() as conn:
            return await liquidations.apply_proceeds(conn, inp, settings=self.settings,
                                                     workflow_id=_workflow_id())


async def start_liquidation_workflow(client, task_queue: str, info: LiquidationInfo) -> None:
    """Start ``liquidation-{id}``; one already running (or ended) with that id is left as it is."""
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RPCError

    try:
        await client.start_workflow(
            LIQUIDATION_WORKFLOW, info, id=liquidation_workflow_id(info.id), task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        return
    except RPCError as exc:
        raise ServiceUnavailable("Temporal is unreachable; the step is retried.") from exc
