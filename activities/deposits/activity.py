"""Temporal activities of the withdrawal workflow: one DB transaction each, idempotent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.audit import record_system_action
from activities.boundary import lana_activity
from activities.deposits import operations
from domain.deposits.messages import ConcludeApproval, WithdrawalCommand, WithdrawalState
from domain.deposits.model import Withdrawal


def _state(w: Withdrawal) -> WithdrawalState:
    return WithdrawalState(withdrawal_id=w.id, account_id=w.account_id, amount=w.amount, status=w.status.value,
                           approved=w.approved)


class WithdrawalActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @lana_activity("deposit.conclude_withdrawal_approval")
    async def conclude_approval(self, req: ConcludeApproval) -> WithdrawalState:
        async with self.engine.begin() as conn:
            w, changed = await operations.conclude_approval(conn, req.withdrawal_id, req.approved)
            if changed:
                await record_system_action(conn, f"deposit/withdrawal/{req.withdrawal_id}",
                                           "deposit:withdrawal:conclude-approval-process",
                                           subject="system:deposit-approval", workflow_id=req.workflow_id)
        return _state(w)

    @lana_activity("deposit.confirm_withdrawal")
    async def confirm(self, req: WithdrawalCommand) -> WithdrawalState:
        async with self.engine.begin() as conn:
            w = await operations.confirm_withdrawal(conn, req.withdrawal_id, req.actor)
        return _state(w)

    @lana_activity("deposit.cancel_withdrawal")
    async def cancel(self, req: WithdrawalCommand) -> WithdrawalState:
        async with self.engine.begin() as conn:
            w = await operations.cancel_withdrawal(conn, req.withdrawal_id, req.actor)
        return _state(w)

    @lana_activity("deposit.withdrawal_state")
    async def state(self, withdrawal_id: str) -> WithdrawalState:
        from activities.deposits.store import load_withdrawal

        async with self.engine.connect() as conn:
            return _state(await load_withdrawal(conn, withdrawal_id))
