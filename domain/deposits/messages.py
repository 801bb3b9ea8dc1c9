"""Workflow and activity payloads of the deposit module (pydantic: Temporal's data converter)."""

from __future__ import annotations

from pydantic import BaseModel


class WithdrawalStart(BaseModel):
    withdrawal_id: str
    account_id: str
    customer_id: str
    amount: int


class WithdrawalCommand(BaseModel):
    withdrawal_id: str
    actor: str
    workflow_id: str | None = None


class ConcludeApproval(BaseModel):
    withdrawal_id: str
    approved: bool
    workflow_id: str | None = None


class WithdrawalState(BaseModel):
    withdrawal_id: str
    account_id: str
    amount: int
    status: str
    approved: bool | None = None
    waiting_for: str | None = None  # set by the workflow while a step waits on something outside it
