"""Custody wallets (custody-price-reports.md §1.7): one workflow per wallet turns notices into the
facility's collateral.

- ``CustodyWalletWorkflow`` (id ``custody-wallet-{wallet_id}``): notices arrive by signal
  ``balance_notice`` (signal-with-start from the webhook route, the notice resolver and the
  self-custody poll). Whatever has queued up is coalesced into one step
  (``custody.sync_wallet``): the provider's current balance, applied to the wallet when it differs
  from the latest, audited. A changed balance is then signalled to the facility's workflow
  (``custody_collateral``), which records it under its lock through the manual update's path
  (``credit.record_collateral``: posting, CVL, activation, margin call, liquidation follow), as
  ``system:custodian-sync``, dated the UTC date of the change; a released wallet (completed
  facility) moves no collateral. A refused step (precision loss, provider refusal) marks its
  notices ``FAILED`` with the reason; transient errors retry. The run waits a little for more
  notices and ends; the next notice starts a new run. After ``NOTICES_BEFORE_CONTINUE`` notices, or
  when Temporal suggests it, it continues as new with what is still queued.
- ``CustodyNoticeWorkflow`` (id ``custody-notice-{inbox_id}``): a notice whose wallet was not known
  yet; the resolver step is retried a bounded number of times (backoff doubling to 60 s), then the
  notice is ``FAILED`` (visible through the API).
- ``SelfCustodyPollWorkflow``: started by the ``custody-self-custody-poll`` schedule; one pass of
  ``custody.poll_self_custody`` over every self-custody wallet.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.boundary import ACTIVITY_OPTIONS, RETRY_POLICY, refusal_of
    from activities.custody.activity import CustodyActivities
    from domain.credit.messages import CUSTODY_COLLATERAL_SIGNAL, CustodyCollateralSignal
    from domain.custody.sync_messages import (
        BALANCE_NOTICE_SIGNAL,
        NOTICES_BEFORE_CONTINUE,
        BalanceNotice,
        FailNoticeInput,
        PollCursor,
        PollInput,
        ResolveInput,
        SyncInput,
        SyncResult,
        WalletWorkflowInput,
    )
    from workflows.credit_facility import facility_workflow_id
    from workflows.search_attributes import LANA_ENTITY_ID, LANA_PROCESS_TYPE, LANA_STATUS

SCHEDULE_ID = "custody-self-custody-poll"


def wallet_workflow_id(wallet_id: str) -> str:
    return f"custody-wallet-{wallet_id}"


def notice_workflow_id(inbox_id: str) -> str:
    return f"custody-notice-{inbox_id}"


@workflow.defn
class CustodyWalletWorkflow:
    @workflow.init
    def __init__(self, inp: WalletWorkflowInput) -> None:
        # from the input first (continue-as-new hands the queue over), then signals in arrival order
        self._queue: list[BalanceNotice] = list(inp.pending)
        self._seen: set[str] = {n.key for n in inp.pending}
        self._handled = 0
        self._last: SyncResult | None = None
        self._last_error: str | None = None

    @workflow.signal(name=BALANCE_NOTICE_SIGNAL)
    def balance_notice(self, notice: BalanceNotice) -> None:
        if notice.key not in self._seen:  # a re-signalled notice (webhook replay) is taken once
            self._seen.add(notice.key)
            self._queue.append(notice)

    @workflow.run
    async def run(self, inp: WalletWorkflowInput) -> SyncResult | None:
        workflow.upsert_search_attributes([LANA_ENTITY_ID.value_set(inp.wallet_id),
                                           LANA_PROCESS_TYPE.value_set("custody-wallet")])
        while True:
            if not self._queue:
                if inp.idle_seconds <= 0:
                    break
                try:
                    await workflow.wait_condition(lambda: bool(self._queue),
                                                  timeout=timedelta(seconds=inp.idle_seconds))
                except TimeoutError:
                    break
            batch, self._queue = self._queue, []
            await self._sync(inp.wallet_id, batch)
            self._handled += len(batch)
            if self._handled >= NOTICES_BEFORE_CONTINUE or workflow.info().is_continue_as_new_suggested():
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._queue:  # arrived while this run was ending: the next run takes them, none is dropped
            workflow.continue_as_new(inp.model_copy(update={"pending": list(self._queue)}))
        return self._last

    async def _sync(self, wallet_id: str, batch: list[BalanceNotice]) -> None:
        try:
            result = await workflow.execute_activity_method(
                CustodyActivities.sync_wallet, SyncInput(wallet_id=wallet_id, notices=batch, now=workflow.now()),
                **ACTIVITY_OPTIONS)
        except ActivityError as exc:
            refusal = refusal_of(exc)
            if refusal is None:
                raise
            self._last_error = f"{refusal.type}: {refusal.message}"
            workflow.logger.warning("wallet %s notices refused: %s", wallet_id, self._last_error)
            await workflow.execute_activity_method(
                CustodyActivities.fail_notices,
                FailNoticeInput(inbox_ids=[n.inbox_id for n in batch if n.inbox_id], error=self._last_error),
                **ACTIVITY_OPTIONS)
            self._publish()
            return
        self._last, self._last_error = result, None
        if result.changed and not result.released and result.facility_id and result.balance_sats is not None:
            await self._tell_facility(result)
        self._publish()

    async def _tell_facility(self, result: SyncResult) -> None:
        """The facility's workflow records it (under its lock); a facility whose workflow has ended
        (closed) has nothing left to move."""
        handle = workflow.get_external_workflow_handle(facility_workflow_id(result.facility_id))
        try:
            await handle.signal(CUSTODY_COLLATERAL_SIGNAL, CustodyCollateralSignal(
                wallet_id=result.wallet_id, balance_sats=result.balance_sats, changed_at=result.changed_at))
        except FailureError as exc:  # the facility's workflow is not running (ended)
            workflow.logger.warning("facility %s not signalled: %s", result.facility_id, exc)

    def _publish(self) -> None:
        r = self._last
        status = "Failed" if self._last_error else ("Released" if r and r.released else "Synced")
        workflow.upsert_search_attributes([LANA_STATUS.value_set(status)])
        details = f"**custody wallet** {status}: {self._handled} notice(s) this run"
        if r is not None:
            details += f"; balance {r.balance_sats} sats at {r.changed_at}, facility {r.facility_id}"
        if self._last_error:
            details += f"; LAST REFUSAL {self._last_error}"
        workflow.set_current_details(details)


@workflow.defn
class CustodyNoticeWorkflow:
    """A stored notice whose wallet was unknown when it arrived (§2.4 spec rule: bounded retries)."""

    @workflow.run
    async def run(self, inp: ResolveInput) -> str | None:
        workflow.upsert_search_attributes([LANA_ENTITY_ID.value_set(inp.inbox_id),
                                           LANA_PROCESS_TYPE.value_set("custody-notice")])
        policy = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(seconds=60), maximum_attempts=inp.attempts)
        try:
            notice = await workflow.execute_activity_method(
                CustodyActivities.resolve_notice, inp.inbox_id, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=policy)
        except ActivityError as exc:
            cause = exc.cause
            error = f"{getattr(cause, 'type', None) or 'error'}: {getattr(cause, 'message', None) or cause}"
            workflow.set_current_details(f"**custody notice** FAILED after {inp.attempts} attempts: {error}")
            await workflow.execute_activity_method(
                CustodyActivities.fail_notices, FailNoticeInput(inbox_ids=[inp.inbox_id], error=error),
                **ACTIVITY_OPTIONS)
            return None
        return notice.wallet_id if notice else None


@workflow.defn
class SelfCustodyPollWorkflow:
    """One pass over the self-custody wallets (confirmed balances); a failing wallet is recorded in
    the result and never stops the others."""

    @workflow.run
    async def run(self, inp: PollInput) -> PollCursor:
        workflow.upsert_search_attributes([LANA_PROCESS_TYPE.value_set("custody-poll")])
        result = await workflow.execute_activity_method(
            CustodyActivities.poll_self_custody, inp, start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2), retry_policy=RETRY_POLICY)
        workflow.set_current_details(f"**self-custody poll**: {result.checked} wallet(s), {result.changed} changed, "
                                     f"{result.failures} failed")
        return result
