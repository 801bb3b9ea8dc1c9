"""Credit facility API shapes (api-surface §0: cents/sats integers, CVL ``{"value"}|{"infinite"}``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Depends
from pydantic import BaseModel, Field

from domain.credit.cvl import cvl_json
from domain.credit.terms import TermValues, TermValuesInput

MAX_CENTS = 10**15


class ProposalCreate(BaseModel):
    customer_id: uuid.UUID
    amount: int = Field(gt=0, le=MAX_CENTS, description="Facility amount, USD cents")
    terms: TermValuesInput  # customer_acceptance_required defaults to true here
    custodian_id: uuid.UUID | None = None


class CustomerDecision(BaseModel):
    approved: bool = Field(description="true: the customer accepts the proposal; false: rejects it")


class CollateralUpdate(BaseModel):
    collateral: int = Field(ge=0, le=21_000_000 * 100_000_000, description="New absolute collateral, sats")
    effective: date | None = None


class DisbursalCreate(BaseModel):
    amount: int = Field(gt=0, le=MAX_CENTS, description="USD cents")


class CreditFacilityOut(BaseModel):
    """One shape for the three stages (they share the id); stage-specific fields are null before."""

    id: str
    public_id: int
    customer_id: str
    customer_type: str
    amount: int
    terms: TermValues
    custodian_id: str | None
    collateral_id: str
    stage: str
    proposal_status: str
    approval_process_id: str
    pending_status: str | None
    status: str | None
    collateralization_state: str | None
    collateral: int
    cvl: dict | None
    price_cents: int | None
    drawn: int
    disbursed: int
    remaining: int
    activated_at: datetime | None
    maturity_date: date | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, r) -> CreditFacilityOut:
        return cls(
            id=str(r.id), public_id=r.public_id, customer_id=str(r.customer_id), customer_type=r.customer_type,
            amount=r.amount_cents, terms=TermValues.model_validate(r.terms),
            custodian_id=str(r.custodian_id) if r.custodian_id else None, collateral_id=str(r.collateral_id),
            stage=r.stage, proposal_status=r.proposal_status, approval_process_id=str(r.id),
            pending_status=r.pending_status, status=r.status,
            collateralization_state=r.collateralization or r.pending_collateralization,
            collateral=r.collateral_sats, cvl=_cvl(r.cvl), price_cents=r.price_cents, drawn=r.drawn_cents,
            disbursed=r.disbursed_cents, remaining=r.amount_cents - r.drawn_cents, activated_at=r.activated_at,
            maturity_date=r.maturity_date, created_at=r.created_at, updated_at=r.updated_at)


def _cvl(value: str | None) -> dict | None:
    from decimal import Decimal

    return None if value is None else cvl_json(Decimal(value))


class DisbursalOut(BaseModel):
    id: str
    public_id: int
    credit_facility_id: str
    amount: int
    status: str
    is_initial: bool
    approval_process_id: str
    due_date: date
    overdue_date: date | None
    liquidation_date: date | None
    created_at: datetime
    concluded_at: datetime | None
    failure_code: str | None = None  # status Failed: the refusal's code (e.g. ledger.account_locked)
    failure_reason: str | None = None  # and its detail

    @classmethod
    def from_row(cls, r) -> DisbursalOut:
        return cls(id=str(r.id), public_id=r.public_id, credit_facility_id=str(r.facility_id), amount=r.amount_cents,
                   status=r.status, is_initial=r.is_initial, approval_process_id=str(r.approval_process_id),
                   due_date=r.due_date, overdue_date=r.overdue_date, liquidation_date=r.liquidation_date,
                   created_at=r.created_at, concluded_at=r.concluded_at, failure_code=r.failure_code,
                   failure_reason=r.failure_reason)


class HistoryEntry(BaseModel):
    sequence: int
    event_type: str
    payload: dict[str, Any]
    recorded_at: datetime | None


class CollateralizationEntry(BaseModel):
    seq: int
    stage: str
    state: str
    cvl: dict
    collateral: int
    outstanding: int
    price_cents: int
    recorded_at: datetime | None


class CollateralUpdateEntry(BaseModel):
    seq: int
    collateral_id: str
    previous: int
    collateral: int
    direction: str
    effective: date
    ledger_transaction_id: str | None
    recorded_by: str
    recorded_at: datetime | None


class FacilityBalance(BaseModel):
    """Ledger read (credit.md §13) of the accounts that exist so far."""

    facility: int
    facility_remaining: int
    collateral: int
    disbursed: int
    not_yet_due_disbursed_outstanding: int
    uncovered_outstanding: int
    fee_income: int
    total_outstanding: int


Direction = Literal["asc", "desc"]


def direction_param(direction: Direction = "desc") -> str:
    return direction


DirectionDep = Depends(direction_param)
