"""CreditFacility: one long-lived workflow per loan (id ``credit-facility-{id}``), from proposal to
the end of the facility.

1. Proposal: when its terms ask for it (``customer_acceptance_required``), the proposal first waits
   in ``PendingCustomerApproval`` for the Update ``customer_decision`` (rejected → ``CustomerDenied``,
   the run ends; guarded by ``workflow.patched("customer-acceptance")``, so runs started before the
   step existed replay their old path). Then a ``credit-facility-proposal`` approval process
   (governance); denied → the run ends.
   Approved → activity ``credit.conclude_proposal`` creates the pending facility, its ledger accounts
   and the off-balance commitment.
2. Operator commands are Temporal Updates whose validators run the aggregate's predicates
   (``CreditFacility.check_*`` through ``check``, so a refused command never reaches history):
   ``update_collateral`` records the collateral (ledger + history), recomputes the CVL with a fresh
   price and, on a pending facility that reached the activation threshold
   (``activation_cvl_threshold``), activates it; ``initiate_disbursal`` reserves the amount and
   starts a ``disbursal`` approval in its own workflow task, concurrently with any others; the
   conclusion settles (deposit account credited, principal obligation), cancels it, or, when the
   ledger refuses the settlement, ends it ``Failed`` (recorded by the step itself);
   ``record_payment`` records a payment and its allocations in one step and answers with them
   (credit.md §8); ``complete`` closes a facility with nothing outstanding and releases its
   collateral (§10), and the run then ends (as it does when a payment closes it,
   ``credit_close_when_paid``). A refusal
   from an activity fails the Update (``refusal_of``), never the workflow. Only Updates take the
   workflow's lock, with bounded attempts (``COMMAND_OPTIONS``); background steps and the price
   signal run without it and the newer snapshot (row version) wins.
3. The main loop waits on conditions; interest cycles, obligation timers and liquidation will be
   further conditions/timers there. When Temporal suggests continue-as-new, it waits for in-flight
   disbursals and handlers, then continues with the state (one ``FacilityState`` model).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError
from temporalio.service import RPCError

with workflow.unsafe.imports_passed_through():
    from activities.boundary import ACTIVITY_OPTIONS, COMMAND_OPTIONS, check, refusal_of, refuse
    from activities.credit.activity import (
        CollateralizationActivities,
        CreditFacilityActivities,
        LiquidationActivities,
    )
    from activities.custody.activity import CustodyActivities
    from domain.credit import facility_day
    from domain.credit.cvl import CollateralizationState
    from domain.credit.end_of_day import FacilityEvent, FacilityEventKind
    from domain.credit.facility import CreditFacility
    from domain.credit.liquidation_messages import InitiateLiquidationInput
    from domain.credit.messages import (
        COLLATERALIZATION_SIGNAL,
        CUSTODIAN_SYNC_ACTOR,
        CUSTODY_COLLATERAL_SIGNAL,
        ActivateInput,
        CollateralCommand,
        CollateralInput,
        CollateralizationSignal,
        CompleteCommand,
        CompleteInput,
        ConcludeDisbursal,
        ConcludeProposal,
        CustodyCollateralSignal,
        CustomerDecisionCommand,
        CustomerDecisionInput,
        DisbursalCommand,
        DisbursalInput,
        FacilityChange,
        FacilityState,
        FacilitySummary,
        PaymentCommand,
        PaymentInput,
        PaymentOutcome,
        ReevaluateInput,
    )
    from domain.credit.status import FacilityStatus, ProposalStatus, Stage
    from domain.custody.messages import CreateWalletInput
    from domain.errors import ServiceUnavailable
    from domain.governance.voting import ApprovalStatus
    from domain.price.model import PriceChanged
    from domain.time.end_of_day import FACILITY_EVENT_SIGNAL
    from workflows.approval_process import request_approval
    from workflows.search_attributes import (
        LANA_COLLATERALIZATION,
        LANA_CUSTOMER_ID,
        LANA_ENTITY_ID,
        LANA_NEXT_ACCRUAL_DATE,
        LANA_OBLIGATION_STATUS,
        LANA_PROCESS_TYPE,
        LANA_STATUS,
    )


def facility_workflow_id(facility_id: str) -> str:
    return f"credit-facility-{facility_id}"


@workflow.defn
class CreditFacilityWorkflow:
    @workflow.init
    def __init__(self, state: FacilityState) -> None:
        # From the start input, so an Update or signal handled in the first activation (before
        # ``run`` has begun) sees the real loan, never ``None``.
        self.state: FacilityState = state
        self.lock = asyncio.Lock()
        self.disbursal_tasks: dict[str, asyncio.Task] = {}
        self._published: tuple | None = None
        self._unconcluded: dict[str, str] = {}  # disbursal id -> code of the refused conclusion
        self._price_seen: datetime | None = None
        # heard from end-of-day events; the activities' snapshots do not carry it (read model)
        self.day = state.end_of_day or facility_day.FacilityDay()
        # Steps outside the lock that may move the stage (the approved proposal's conclusion, a
        # price-driven activation) are in flight: their row is committed before this copy of the
        # state is, so a client can read the new stage and send a command first (see _settled).
        self._moving = 0
        # credit.md §9.2: a change of the collateralization state TO UnderLiquidationThreshold starts a
        # liquidation (the step decides on the locked row; the main loop runs it)
        self._collateralization_seen = state.collateralization
        self._liquidation_due = False
        self._wallet_task: asyncio.Task | None = None  # custody.create_wallet after approval

    @workflow.run
    async def run(self, state: FacilityState) -> FacilityState:
        self._publish()
        if self.state.stage is Stage.PROPOSAL:
            if workflow.patched("customer-acceptance"):
                # at once when the terms have no customer step (or the decision came in the first activation)
                await workflow.wait_condition(self._customer_decided)
                if self.state.stage is Stage.DENIED:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    return self.state
            status = await request_approval("credit-facility-proposal", state.id, f"credit-facility:{state.id}")
            # no lock: every command is refused before the proposal concludes (validators), except
            # while an approved one concludes, when commands wait for it (_settled)
            await self._moving_step(status is ApprovalStatus.APPROVED, CreditFacilityActivities.conclude_proposal,
                                    ConcludeProposal(facility_id=state.id, approved=status is ApprovalStatus.APPROVED,
                                                     now=workflow.now()))
            if self.state.stage is Stage.DENIED:
                return self.state
            if self.state.custodian_id is not None and workflow.patched("custody-wallet"):
                # in the background: a custodian that is slow (or a Komainu wallet not opened yet)
                # never holds the loan's main loop
                self._wallet_task = asyncio.create_task(self._create_wallet())
        for disbursal_id in list(self.state.in_flight):  # carried over a continue-as-new
            self._watch_disbursal(disbursal_id)
        while True:
            await workflow.wait_condition(
                lambda: self._closed() or workflow.info().is_continue_as_new_suggested() or self._liquidation_due)
            if self._closed():
                break
            if self._liquidation_due:
                self._liquidation_due = False
                if workflow.patched("liquidation"):
                    await self._initiate_liquidation()
                continue
            await workflow.wait_condition(lambda: not self.state.in_flight and workflow.all_handlers_finished()
                                          and self._wallet_settled())
            workflow.continue_as_new(self.state.model_copy(update={"end_of_day": self.day}))
        if not self._wallet_settled():
            self._wallet_task.cancel()  # closed before its custodian answered: no wallet is needed now
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    def _wallet_settled(self) -> bool:
        return self._wallet_task is None or self._wallet_task.done()

    async def _create_wallet(self) -> None:
        """``custody.create_wallet`` (custody-price-reports.md §1.6): the approved facility's wallet
        at the custodian its proposal named. Its own idempotent step after the conclusion, in the
        background and outside the lock; transient provider errors retry, a refusal (bad
        credentials) is logged and the facility goes on without a wallet (collateral then manual).
        Continue-as-new waits for it; closing the loan cancels it."""
        try:
            wallet = await workflow.execute_activity_method(
                CustodyActivities.create_wallet, CreateWalletInput(facility_id=self.state.id), **ACTIVITY_OPTIONS)
        except ActivityError as exc:  # a background step: whatever ended it is logged, the loan goes on
            refusal = refusal_of(exc)
            workflow.logger.warning("custody wallet not created: %s", f"{refusal.type} {refusal.message}"
                                    if refusal is not None else exc.cause)
            return
        if wallet is not None and wallet.provider != "manual" and not self.state.custody_managed:
            # manual updates are refused from now on, in the validator too (the steps' snapshots
            # read it with the row; this copy would only learn it at the next step)
            self.state = self.state.model_copy(update={"custody_managed": True})

    async def _initiate_liquidation(self) -> None:
        """``credit.initiate_liquidation``: on the locked row, when the stored state is still
        UnderLiquidationThreshold with something outstanding and none open, the liquidation is
        created and its workflow started (``liquidation-{id}``). No lock: it is a background step."""
        try:
            await workflow.execute_activity_method(
                LiquidationActivities.initiate_liquidation,
                InitiateLiquidationInput(facility_id=self.state.id, now=workflow.now()), **ACTIVITY_OPTIONS)
        except ActivityError as exc:
            refusal = refusal_of(exc)
            if refusal is None:
                raise
            workflow.logger.warning("liquidation not initiated: %s %s", refusal.type, refusal.message)

    def _customer_decided(self) -> bool:
        return self.state.proposal_status is not ProposalStatus.PENDING_CUSTOMER_APPROVAL

    def _closed(self) -> bool:
        return self.state.status is FacilityStatus.CLOSED

    async def _step(self, fn, arg, options: dict = ACTIVITY_OPTIONS) -> None:
        """Run a step's activity and keep the newer snapshot: steps that run outside the lock (a
        disbursal's conclusion, a price re-evaluation) may complete out of order; the row's version
        orders them. A step answers with the moving fields only (``FacilityChange``)."""
        change = await workflow.execute_activity_method(fn, arg, **options)
        if change.version >= self.state.version:
            self.state = self.state.with_change(change)
            self._publish()

    async def _moving_step(self, moving: bool, fn, arg) -> None:
        """A step that may move the stage; commands arriving meanwhile wait for it (_settled)."""
        self._moving += moving
        try:
            await self._step(fn, arg)
        finally:
            self._moving -= moving

    def _settled(self) -> bool:
        """No stage-moving step in flight. Its activity commits the read model before the workflow
        sees the result, so the API may already show the new stage: a command's validator then
        lets it in and its handler checks the rule once the step has ended (never refused for a
        state the client has already seen replaced)."""
        return not self._moving

    async def _command(self, fn, arg) -> None:
        """Run a command's activity (under the lock, a few attempts: ``COMMAND_OPTIONS``); a domain
        refusal fails the update (not the workflow), and so does a step that kept failing otherwise
        (``common.unavailable``: the caller repeats; the lock is not held across an outage)."""
        try:
            await self._step(fn, arg, COMMAND_OPTIONS)
        except ActivityError as exc:
            refusal = refusal_of(exc)
            if refusal is not None:
                raise refusal from exc
            workflow.logger.warning("command step %s failed: %s", fn.__name__, exc.cause)
            refuse(ServiceUnavailable("The step could not complete now; repeat the request.", retry_after=2))

    def _facility(self) -> CreditFacility:
        """The aggregate over the workflow's copy of the state, to run the domain's predicates."""
        return CreditFacility.of(self.state)

    # -- customer acceptance (credit.md §4.2) ---------------------------------------------------
    @workflow.update
    async def customer_decision(self, cmd: CustomerDecisionCommand) -> FacilityChange:
        async with self.lock:
            check(CreditFacility.check_customer_decision, self._facility())  # a second one waited for the lock
            await self._command(CreditFacilityActivities.conclude_customer_approval, CustomerDecisionInput(
                facility_id=self.state.id, approved=cmd.approved, actor=cmd.actor))
            return self.state.change()

    @customer_decision.validator
    def validate_customer_decision(self, cmd: CustomerDecisionCommand) -> None:
        check(CreditFacility.check_customer_decision, self._facility())

    # -- collateral and activation -------------------------------------------------------------
    @workflow.update
    async def update_collateral(self, cmd: CollateralCommand) -> FacilityChange:
        if not self._settled():  # (no wait otherwise: the handler runs exactly as before)
            await workflow.wait_condition(self._settled)
        async with self.lock:
            check(CreditFacility.check_manual_collateral_update, self._facility(), cmd.collateral_sats)
            await self._command(CreditFacilityActivities.record_collateral, CollateralInput(
                facility_id=self.state.id, seq=self.state.collateral_seq + 1, collateral_sats=cmd.collateral_sats,
                effective=cmd.effective, actor=cmd.actor, now=workflow.now()))
            if self._facility().ready_to_activate():
                await self._command(CreditFacilityActivities.activate,
                                    ActivateInput(facility_id=self.state.id, now=workflow.now()))
            return self.state.change()

    @update_collateral.validator
    def validate_collateral(self, cmd: CollateralCommand) -> None:
        if self._settled():
            check(CreditFacility.check_manual_collateral_update, self._facility(), cmd.collateral_sats)

    @workflow.signal(name=CUSTODY_COLLATERAL_SIGNAL)
    async def custody_collateral(self, sig: CustodyCollateralSignal) -> None:
        """From the facility's custody wallet workflow (custody-price-reports.md §1.7): its balance
        changed. Recorded as a manual update is (same step, under the lock, then activation when
        ready), as ``system:custodian-sync``; the step reads the wallet's latest balance under the
        facility's row lock and dates the change the UTC date it happened, so a late signal changes
        nothing. A refusal is logged, never raised: a signal must not fail the loan."""
        if self.state.stage not in (Stage.PENDING, Stage.ACTIVE) or self._closed():
            return
        if not self._settled():
            await workflow.wait_condition(self._settled)
        async with self.lock:
            if self._closed():
                return
            try:
                await self._step(CreditFacilityActivities.record_collateral, CollateralInput(
                    facility_id=self.state.id, seq=self.state.collateral_seq + 1, collateral_sats=sig.balance_sats,
                    effective=sig.changed_at.date(), actor=CUSTODIAN_SYNC_ACTOR, now=workflow.now(),
                    custody_wallet_id=sig.wallet_id))
                if self._facility().ready_to_activate():
                    await self._step(CreditFacilityActivities.activate,
                                     ActivateInput(facility_id=self.state.id, now=workflow.now()))
            except ActivityError as exc:
                refusal = refusal_of(exc)
                if refusal is None:
                    raise
                workflow.logger.warning("custody collateral %s sats not applied: %s %s", sig.balance_sats,
                                        refusal.type, refusal.message)

    # -- price changes ------------------------------------------------------------------------
    @workflow.signal
    async def price_changed(self, sig: PriceChanged) -> None:
        """From PriceFeedWorkflow, only when this facility's state changes at the new price: an active
        facility re-evaluates its collateralization, a pending one that became fully collateralized
        activates (the same ``activate`` activity as after a collateral update; credit.md §3.6). An
        observation not newer than one already handled is dropped (replayed signal); the activities
        are idempotent on their own too (see activities/credit/operations.py). A refusal (e.g. the
        price went stale meanwhile) is logged, never raised: a signal must not fail the loan. No
        lock: the steps decide on the locked row (retried through an outage without holding up
        commands), and ``_step`` keeps the newer snapshot."""
        if self.state.stage not in (Stage.ACTIVE, Stage.PENDING) or self._closed():
            return
        if self._price_seen is not None and sig.observed_at <= self._price_seen:
            return
        self._price_seen = sig.observed_at
        try:
            if self.state.stage is Stage.PENDING:
                # patched: runs recorded before may have accepted a command during this step
                await self._moving_step(workflow.patched("price-activation-settles"),
                                        CreditFacilityActivities.activate,
                                        ActivateInput(facility_id=self.state.id, now=workflow.now()))
                return
            await self._step(CollateralizationActivities.reevaluate_collateralization, ReevaluateInput(
                facility_id=self.state.id, usd_cents_per_btc=sig.usd_cents_per_btc, observed_at=sig.observed_at))
        except ActivityError as exc:
            refusal = refusal_of(exc)
            if refusal is None:
                raise
            workflow.logger.warning("price %s not applied: %s %s", sig.usd_cents_per_btc, refusal.type,
                                    refusal.message)

    @workflow.signal(name=COLLATERALIZATION_SIGNAL)
    def collateralization_changed(self, sig: CollateralizationSignal) -> None:
        """From a set-based pass (a price event's, the end of day's) after its page committed: the
        facility's row now holds this collateralization state at ``version``. Taken when newer than
        this copy (signals come at least once and in any order); nothing is run, the pass persisted
        it. Entering UnderLiquidationThreshold is where a liquidation starts (credit.md §9)."""
        if self.state.stage is not Stage.ACTIVE or self._closed() or sig.version <= self.state.version:
            return
        self.state = self.state.model_copy(update={
            "collateralization": sig.state, "cvl": sig.cvl, "price_cents": sig.price_cents,
            "outstanding_cents": sig.outstanding_cents, "collateral_sats": sig.collateral_sats,
            "version": sig.version})
        self._publish()

    # -- end of day ------------------------------------------------------------------------------
    @workflow.signal(name=FACILITY_EVENT_SIGNAL)
    def end_of_day_event(self, event: FacilityEvent) -> None:
        """From the EndOfDay run's steps, after their page committed (credit.md §12.2): the current
        cycle, next accrual date and worst obligation status for the UI (``summary``, search
        attributes), and maturity (status ``Matured``). Delivered at least once: applying an event
        again changes nothing (``facility_day.apply``); nothing is run, the steps persisted it."""
        if self.state.stage is not Stage.ACTIVE or self._closed():
            return
        if event.kind is FacilityEventKind.COLLATERALIZATION_CHANGED:
            self.collateralization_changed(CollateralizationSignal.model_validate(event.detail))
            return
        before = self.day
        self.day = facility_day.apply(self.day, event)
        if self.day.matured and self.state.status is FacilityStatus.ACTIVE:
            self.state = self.state.model_copy(update={"status": FacilityStatus.MATURED})
        shown = (self.day.worst_obligation_status, self.day.next_accrual_date)
        if shown != (before.worst_obligation_status, before.next_accrual_date):
            workflow.upsert_search_attributes([
                LANA_OBLIGATION_STATUS.value_set(shown[0] or "None"),
                LANA_NEXT_ACCRUAL_DATE.value_set(shown[1].isoformat() if shown[1] else "None")])
        self._publish()

    # -- disbursals ----------------------------------------------------------------------------
    @workflow.update
    async def initiate_disbursal(self, cmd: DisbursalCommand) -> FacilityChange:
        if not self._settled():
            await workflow.wait_condition(self._settled)
        async with self.lock:
            check(CreditFacility.check_disbursal, self._facility(), cmd.amount_cents, None, cmd.disbursal_id)
            await self._command(CreditFacilityActivities.initiate_disbursal, DisbursalInput(
                facility_id=self.state.id, disbursal_id=cmd.disbursal_id, amount_cents=cmd.amount_cents,
                actor=cmd.actor, now=workflow.now()))
        if cmd.disbursal_id in self.state.in_flight:
            self._watch_disbursal(cmd.disbursal_id)
        return self.state.change()

    @initiate_disbursal.validator
    def validate_disbursal(self, cmd: DisbursalCommand) -> None:
        # a replayed request (already in flight) is answered, not refused
        if self._settled():
            check(CreditFacility.check_disbursal, self._facility(), cmd.amount_cents, None, cmd.disbursal_id)

    def _watch_disbursal(self, disbursal_id: str) -> None:
        if disbursal_id not in self.disbursal_tasks:
            self.disbursal_tasks[disbursal_id] = asyncio.create_task(self._conclude_disbursal(disbursal_id))

    async def _conclude_disbursal(self, disbursal_id: str) -> None:
        """A refused settlement is recorded by the activity itself (the disbursal ends ``Failed``, see
        ``operations.conclude_disbursal``). A refusal of the conclusion as a whole (not retried) is
        logged and shown in the current details, never dropped silently with the task. It runs
        without the workflow's lock: the step locks the facility's row, so the database serialises
        it with the commands, and a retried attempt (an outage) holds up no command."""
        status = await request_approval("disbursal", disbursal_id, f"disbursal:{disbursal_id}")
        try:
            await self._step(CreditFacilityActivities.conclude_disbursal, ConcludeDisbursal(
                facility_id=self.state.id, disbursal_id=disbursal_id,
                approved=status is ApprovalStatus.APPROVED, now=workflow.now()))
        except ActivityError as exc:
            refusal = refusal_of(exc)
            if refusal is None:
                raise
            workflow.logger.error("disbursal %s could not be concluded: %s %s", disbursal_id, refusal.type,
                                  refusal.message)
            self._unconcluded[disbursal_id] = refusal.type or "refused"
            self._publish()

    # -- payments and completion (credit.md §8, §10) ---------------------------------------------
    @workflow.update
    async def record_payment(self, cmd: PaymentCommand) -> PaymentOutcome:
        """One step records the payment, allocates it and posts everything (one transaction); a
        payment id already recorded is answered as it was. Under the lock, so two payments on
        one facility allocate one after the other."""
        if not self._settled():
            await workflow.wait_condition(self._settled)
        async with self.lock:
            check(CreditFacility.check_payment, self._facility(), cmd.amount_cents)
            try:
                outcome = await workflow.execute_activity_method(
                    CreditFacilityActivities.record_payment, PaymentInput(
                        facility_id=self.state.id, payment_id=cmd.payment_id, amount_cents=cmd.amount_cents,
                        effective=cmd.effective, actor=cmd.actor, now=workflow.now()), **COMMAND_OPTIONS)
            except ActivityError as exc:
                refusal = refusal_of(exc)
                if refusal is not None:
                    raise refusal from exc
                workflow.logger.warning("payment step failed: %s", exc.cause)
                refuse(ServiceUnavailable("The step could not complete now; repeat the request.", retry_after=2))
            if outcome.state.version >= self.state.version:
                self.state = outcome.state
                self._publish()
            return outcome

    @record_payment.validator
    def validate_payment(self, cmd: PaymentCommand) -> None:
        if self._settled():
            check(CreditFacility.check_payment, self._facility(), cmd.amount_cents)

    @workflow.update
    async def complete(self, cmd: CompleteCommand) -> FacilityChange:
        """Close the facility (the step refuses it while anything is outstanding, naming it)."""
        if not self._settled():
            await workflow.wait_condition(self._settled)
        async with self.lock:
            if check(CreditFacility.check_complete, self._facility()):
                await self._command(CreditFacilityActivities.complete_facility, CompleteInput(
                    facility_id=self.state.id, actor=cmd.actor, now=workflow.now()))
            return self.state.change()

    @complete.validator
    def validate_complete(self, cmd: CompleteCommand) -> None:
        if self._settled():
            check(CreditFacility.check_complete, self._facility())

    # -- visibility ----------------------------------------------------------------------------
    @workflow.query
    def current(self) -> FacilityState:
        return self.state

    @workflow.query
    def summary(self) -> FacilitySummary:
        return FacilitySummary.of(self.state, self.day)

    @workflow.query
    def unconcluded_disbursals(self) -> dict[str, str]:
        """Disbursals whose conclusion was refused as a whole (id -> code); normally empty."""
        return dict(self._unconcluded)

    def _publish(self) -> None:
        s = self.state
        entering = (s.collateralization is CollateralizationState.UNDER_LIQUIDATION_THRESHOLD
                    and self._collateralization_seen is not CollateralizationState.UNDER_LIQUIDATION_THRESHOLD)
        if entering and s.stage is Stage.ACTIVE and s.outstanding_cents > 0:
            self._liquidation_due = True
        self._collateralization_seen = s.collateralization
        current = (s.status_label, s.collateralization_label)
        shown = (current, s.failed_disbursals, tuple(self._unconcluded.items()), self.day)
        if shown == self._published:
            return
        if self._published is None or self._published[0] != current:
            workflow.upsert_search_attributes([
                LANA_ENTITY_ID.value_set(s.id), LANA_CUSTOMER_ID.value_set(s.customer_id),
                LANA_PROCESS_TYPE.value_set("credit-facility"), LANA_STATUS.value_set(current[0]),
                LANA_COLLATERALIZATION.value_set(current[1])])
        self._published = shown
        details = (f"**credit facility** {current[0]} / {current[1]}: amount {s.amount_cents} ¢, collateral "
                   f"{s.collateral_sats} sats, CVL {s.cvl}, drawn {s.drawn_cents} ¢")
        if s.failed_disbursals:
            details += f"; {s.failed_disbursals} failed disbursal(s), last {s.last_disbursal_failure}"
        day = self.day
        if day.business_date is not None:
            details += (f"; end of day {day.business_date}: cycle {day.current_cycle}, next accrual "
                        f"{day.next_accrual_date}, worst obligation {day.worst_obligation_status}")
        if self._unconcluded:
            details += "; NOT CONCLUDED: " + ", ".join(f"{d}: {c}" for d, c in self._unconcluded.items())
        workflow.set_current_details(details)


async def start_facility_workflow(client, task_queue: str, state: FacilityState) -> None:
    """Start the facility's workflow; a repeat reaches the running one (USE_EXISTING)."""
    try:
        await client.start_workflow(
            CreditFacilityWorkflow.run, state, id=facility_workflow_id(state.id), task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    except RPCError as exc:
        raise ServiceUnavailable("Temporal is unreachable; retry with the same Idempotency-Key.") from exc
