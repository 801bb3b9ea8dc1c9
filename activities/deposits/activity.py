"""Temporal activities of the withdrawal workflow: one DB transaction each, idempotent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import record_system_action
from activities.deposits import operations
from domain.deposits.messages import ConcludeApproval, WithdrawalCommand, WithdrawalState
from domain.deposits.model import Withdrawal
from domain.errors import LanaError

# a locked ledger account (frozen deposit account) is transient: retry until it is unfrozen
_RETRYABLE = {"ledger.account_locked", "common.concurrent_update"}


def _state(w: Withdrawal) -> WithdrawalState:
    return WithdrawalState(withdrawal_id=w.id, account_id=w.account_id, amount=w.amount, status=w.status.value,
                           approved=w.approved)


def _app_error(exc: LanaError) -> ApplicationError:
    return ApplicationError(exc.detail, type=exc.code,
                            non_retryable=exc.status < 500 and exc.code not in _RETRYABLE)


class WithdrawalActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn(name="deposit.conclude_withdrawal_approval")
    async def conclude_approval(self, req: ConcludeApproval) -> WithdrawalState:
        try:
            async with self.engine.begin() as conn:
                w, changed = await operations.conclude_approval(conn, req.withdrawal_id, req.approved)
                if changed:
                    await record_system_action(conn, f"deposit/withdrawal/{req.withdrawal_id}",
                                               "deposit:withdrawal:conclude-approval-process",
                                               subject="system:deposit-approval", workflow_id=req.workflow_id)
        except LanaError as exc:
            raise _app_error(exc) from exc
        return _state(w)

    @activity.defn(name="deposit.confirm_withdrawal")
    async def confirm(self, req: WithdrawalCommand) -> WithdrawalState:
        try:
            async with self.engine.begin() as conn:
                w = await operations.confirm_withdrawal(conn, req.withdrawal_id, req.actor)
        except LanaError as exc:
            raise _app_error(exc) from exc
        return _state(w)

    @activity.defn(name="deposit.cancel_withdrawal")
    async def cancel(self, req: WithdrawalCommand) -> WithdrawalState:
        try:
            async with self.engine.begin() as conn:
                w = await operations.cancel_withdrawal(conn, req.withdrawal_id, req.actor)
        except LanaError as exc:
            raise _app_error(exc) from exc
        return _state(w)

    @activity.defn(name="deposit.withdrawal_state")
    async def state(self, withdrawal_id: str) -> WithdrawalState:
        from activities.deposits.store import load_withdrawal

        async with self.engine.connect() as conn:
            return _state(await load_withdrawal(conn, withdrawal_id))
