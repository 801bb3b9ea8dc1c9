"""Liquidation: one workflow per partial liquidation (id ``liquidation-{liquidation_id}``, credit.md
§9.2–§9.3), started by the ``credit.initiate_liquidation`` step after its row committed (the
facility workflow runs that step when its collateralization state changes to
UnderLiquidationThreshold).

- Update ``record_collateral_sent(amount_sats)``, any number of times while open: one step posts
  SEND_COLLATERAL_TO_LIQUIDATION, lowers the facility's collateral and recomputes its CVL.
- Update ``record_proceeds(amount_cents)``, once: one step posts RECEIVE_PROCEEDS_FROM_LIQUIDATION.
  The run then applies them: a payment from the facility's proceeds account, allocated like any
  other, and the liquidation ``completed`` (one step, idempotent by the payment id derived from the
  liquidation's); the run ends, and a later crossing may start a new liquidation.
- After each step that moved the facility's row, the facility workflow is told
  (``collateralization_changed``, taken when newer than its copy).
- Query ``progress``; search attributes ``LanaStatus`` and the expected / received / sent amounts.

Commands run under the workflow's lock with ``COMMAND_OPTIONS``; a domain refusal fails the Update
(``refusal_of``), never the workflow. Validators refuse what the workflow's copy already rules out.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.boundary import ACTIVITY_OPTIONS, COMMAND_OPTIONS, refusal_of, refuse
    from activities.credit.activity import LiquidationActivities
    from domain.credit.errors import (
        InvalidLiquidationAmount,
        LiquidationProceedsAlreadyReceived,
        NoActiveLiquidation,
    )
    from domain.credit.liquidation import MAX_AMOUNT, LiquidationStatus
    from domain.credit.liquidation_messages import (
        ApplyProceedsInput,
        CollateralSentCommand,
        CollateralSentInput,
        LiquidationInfo,
        LiquidationStepResult,
        ProceedsCommand,
        ProceedsInput,
    )
    from domain.credit.messages import COLLATERALIZATION_SIGNAL
    from domain.errors import ServiceUnavailable
    from workflows.search_attributes import (
        LANA_ENTITY_ID,
        LANA_LIQUIDATION_EXPECTED_CENTS,
        LANA_LIQUIDATION_RECEIVED_CENTS,
        LANA_LIQUIDATION_SENT_SATS,
        LANA_PROCESS_TYPE,
        LANA_STATUS,
    )


def _facility_workflow_id(facility_id: str) -> str:
    return f"credit-facility-{facility_id}"  # workflows.credit_facility.facility_workflow_id


@workflow.defn
class LiquidationWorkflow:
    @workflow.init
    def __init__(self, info: LiquidationInfo) -> None:
        self.info = info
        self.lock = asyncio.Lock()
        self._published: tuple | None = None

    @workflow.run
    async def run(self, info: LiquidationInfo) -> LiquidationInfo:
        self._publish()
        await workflow.wait_condition(lambda: self.info.status != LiquidationStatus.OPEN)
        if self.info.status == LiquidationStatus.PROCEEDS_RECEIVED:
            result = await workflow.execute_activity_method(
                LiquidationActivities.apply_proceeds,
                ApplyProceedsInput(liquidation_id=self.info.id, now=workflow.now()), **ACTIVITY_OPTIONS)
            await self._took(result)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.info

    async def _took(self, result: LiquidationStepResult) -> None:
        if result.liquidation.version >= self.info.version:
            self.info = result.liquidation
            self._publish()
        if result.facility is not None:
            try:
                await workflow.get_external_workflow_handle(_facility_workflow_id(self.info.facility_id)).signal(
                    COLLATERALIZATION_SIGNAL, result.facility)
            except Exception as exc:  # noqa: BLE001 - the facility's run ended: its row is the truth
                workflow.logger.info("facility %s not told: %s", self.info.facility_id, exc)

    async def _command(self, fn, arg) -> LiquidationStepResult:
        try:
            result = await workflow.execute_activity_method(fn, arg, **COMMAND_OPTIONS)
        except ActivityError as exc:
            refusal = refusal_of(exc)
            if refusal is not None:
                raise refusal from exc
            workflow.logger.warning("liquidation step %s failed: %s", fn.__name__, exc.cause)
            refuse(ServiceUnavailable("The step could not complete now; repeat the request.", retry_after=2))
        await self._took(result)
        return result

    # -- operator commands (credit.md §9.3) -----------------------------------------------------
    @workflow.update
    async def record_collateral_sent(self, cmd: CollateralSentCommand) -> LiquidationStepResult:
        async with self.lock:
            return await self._command(LiquidationActivities.collateral_sent, CollateralSentInput(
                liquidation_id=self.info.id, command_id=cmd.command_id, amount_sats=cmd.amount_sats,
                actor=cmd.actor, now=workflow.now()))

    @record_collateral_sent.validator
    def validate_collateral_sent(self, cmd: CollateralSentCommand) -> None:
        if self.info.status != LiquidationStatus.OPEN:
            refuse(NoActiveLiquidation(f"Liquidation {self.info.id} is {self.info.status}."))
        if not 0 < cmd.amount_sats <= MAX_AMOUNT:
            refuse(InvalidLiquidationAmount("The amount must be a positive number of sats.", field="amount"))

    @workflow.update
    async def record_proceeds(self, cmd: ProceedsCommand) -> LiquidationStepResult:
        async with self.lock:
            return await self._command(LiquidationActivities.proceeds_received, ProceedsInput(
                liquidation_id=self.info.id, command_id=cmd.command_id, amount_cents=cmd.amount_cents,
                actor=cmd.actor, now=workflow.now()))

    @record_proceeds.validator
    def validate_proceeds(self, cmd: ProceedsCommand) -> None:
        if self.info.status != LiquidationStatus.OPEN:
            refuse(LiquidationProceedsAlreadyReceived(
                f"Liquidation {self.info.id} already received {self.info.proceeds_cents} ¢ of proceeds."))
        if not 0 < cmd.amount_cents <= MAX_AMOUNT:
            refuse(InvalidLiquidationAmount("The amount must be a positive number of cents.", field="amount"))

    # -- visibility ----------------------------------------------------------------------------
    @workflow.query
    def progress(self) -> LiquidationInfo:
        return self.info

    def _publish(self) -> None:
        i = self.info
        shown = (i.status, i.sent_total_sats, i.proceeds_cents)
        if shown == self._published:
            return
        self._published = shown
        workflow.upsert_search_attributes([
            LANA_ENTITY_ID.value_set(i.id), LANA_PROCESS_TYPE.value_set("liquidation"),
            LANA_STATUS.value_set(i.status), LANA_LIQUIDATION_EXPECTED_CENTS.value_set(i.expected_to_receive_cents),
            LANA_LIQUIDATION_RECEIVED_CENTS.value_set(i.proceeds_cents or 0),
            LANA_LIQUIDATION_SENT_SATS.value_set(i.sent_total_sats)])
        workflow.set_current_details(
            f"**liquidation** {i.status} of facility {i.facility_id}: expected {i.expected_to_receive_cents} ¢ "
            f"for ~{i.estimated_to_liquidate_sats} sats at {i.trigger_price_cents} ¢/BTC; sent {i.sent_total_sats} "
            f"sats in {i.sent_count}, received {i.proceeds_cents} ¢")
