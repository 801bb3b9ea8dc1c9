"""Temporal messages of the Liquidation workflow (credit.md §9.3): pydantic models, as the other
credit messages (``domain/credit/messages.py``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.credit.messages import CollateralizationSignal


class LiquidationInfo(BaseModel):
    """A liquidation as stored (the workflow's copy, the ``progress`` query, the API's answer)."""

    id: str
    facility_id: str
    collateral_id: str
    seq: int
    status: str
    trigger_price_cents: int
    expected_to_receive_cents: int
    estimated_to_liquidate_sats: int
    sent_total_sats: int = 0
    sent_count: int = 0
    proceeds_cents: int | None = None
    payment_id: str | None = None
    version: int = 0
    created_at: datetime | None = None
    completed_at: datetime | None = None


class InitiateLiquidationInput(BaseModel):
    facility_id: str
    now: datetime


class CollateralSentCommand(BaseModel):
    command_id: str  # the request's idempotency identity
    amount_sats: int
    actor: str


class ProceedsCommand(BaseModel):
    command_id: str
    amount_cents: int
    actor: str


class CollateralSentInput(BaseModel):
    liquidation_id: str
    command_id: str
    amount_sats: int
    actor: str
    now: datetime


class ProceedsInput(BaseModel):
    liquidation_id: str
    command_id: str
    amount_cents: int
    actor: str
    now: datetime


class ApplyProceedsInput(BaseModel):
    liquidation_id: str
    now: datetime


class LiquidationStepResult(BaseModel):
    """A step's answer: the liquidation, and (when the facility's row moved) what the facility
    workflow is told (``collateralization_changed``, taken when newer than its copy)."""

    liquidation: LiquidationInfo
    replayed: bool = False
    facility: CollateralizationSignal | None = None
