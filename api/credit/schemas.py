"""Credit facility API shapes (api-surface §0: cents/sats integers, CVL ``{"value"}|{"infinite"}``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fastapi import Depends
from pydantic import BaseModel, Field

from api.capabilities import CAPABILITIES_FIELD
from api.enums import ApiEnum, Direction, api_enum
from domain.credit.allocation import AllocationStrategy
from domain.credit.balance import FacilityBalanceSummary
from domain.credit.cvl import CollateralizationState, PendingCollateralizationState, cvl, cvl_json
from domain.credit.status import (
    AccrualCycleStatus,
    DisbursalStatus,
    FacilityStatus,
    ObligationStatus,
    ObligationType,
    PendingStatus,
    ProposalStatus,
    RepaymentStatus,
    Stage,
)
from domain.credit.terms import (
    DayCountConvention,
    DisbursalPolicy,
    FacilityDuration,
    InterestInterval,
    ObligationDuration,
    TermValues,
)
from domain.custody.model import Network, Provider
from domain.customers.model import CustomerType

MAX_CENTS = 10**15
# Active and pending collateralization states share FULLY_COLLATERALIZED; one field carries either.
Collateralization = api_enum(CollateralizationState, PendingCollateralizationState)
CollateralDirection = api_enum("add", "remove")


class Months(FacilityDuration):
    period: api_enum("MONTHS") = "MONTHS"  # type: ignore[valid-type]


class Days(ObligationDuration):
    period: api_enum("DAYS") = "DAYS"  # type: ignore[valid-type]


class Terms(TermValues):
    """The loan terms as the API spells them (enum values SCREAMING_SNAKE, api/enums.py).

    Hand ``to_domain()`` to the domain: the domain, the store and the workflows keep TermValues."""

    duration: Months
    interest_due_duration_from_accrual: Days
    obligation_overdue_duration_from_due: Days | None
    obligation_liquidation_duration_from_due: Days | None
    accrual_cycle_interval: ApiEnum[InterestInterval]
    accrual_interval: ApiEnum[InterestInterval]
    disbursal_policy: ApiEnum[DisbursalPolicy]
    day_count_convention: ApiEnum[DayCountConvention] = Field(
        default=DayCountConvention.ACT_365_FIXED, description="Interest day count (default ACT_365_FIXED)")
    payment_allocation_strategy: ApiEnum[AllocationStrategy] = Field(
        default=AllocationStrategy.INTEREST_FIRST,
        description="Payment allocation order (credit.md §8.2): INTEREST_FIRST (default) or TIERED")

    def to_domain(self) -> TermValues:
        return TermValues.model_validate(self.model_dump())


class NewTerms(Terms):
    """Terms as a request gives them (proposal, terms template): a new product asks for the
    customer's acceptance unless ``customer_acceptance_required`` says false (stored terms without
    the field, read back through ``Terms``, keep false)."""

    customer_acceptance_required: bool = Field(
        default=True, description="The proposal waits for the customer's acceptance before governance approval")


class ProposalCreate(BaseModel):
    customer_id: uuid.UUID
    amount: int = Field(gt=0, le=MAX_CENTS, description="Facility amount, USD cents")
    terms: NewTerms  # customer_acceptance_required defaults to true here
    custodian_id: uuid.UUID | None = None


class CustomerDecision(BaseModel):
    approved: bool = Field(description="true: the customer accepts the proposal; false: rejects it")


class CollateralUpdate(BaseModel):
    collateral: int = Field(ge=0, le=21_000_000 * 100_000_000, description="New absolute collateral, sats")
    effective: date | None = None


class DisbursalCreate(BaseModel):
    amount: int = Field(gt=0, le=MAX_CENTS, description="USD cents")


class FacilityWalletOut(BaseModel):
    """The facility's collateral wallet at its custodian (created at approval)."""

    wallet_id: str
    address: str
    network: ApiEnum[Network]
    custodian_id: str
    provider: ApiEnum[Provider]


class CreditFacilityOut(BaseModel):
    """One shape for the three stages (they share the id); stage-specific fields are null before."""

    id: str
    public_id: int
    customer_id: str
    customer_type: ApiEnum[CustomerType]
    amount: int
    terms: Terms
    custodian_id: str | None
    wallet: FacilityWalletOut | None = Field(None, description="The custody wallet (null: no custodian, manual "
                                                               "collateral, or not approved yet)")
    collateral_id: str
    stage: ApiEnum[Stage]
    proposal_status: ApiEnum[ProposalStatus]
    approval_process_id: str
    pending_status: ApiEnum[PendingStatus] | None
    status: ApiEnum[FacilityStatus] | None
    collateralization_state: Collateralization | None
    collateral: int
    cvl: dict | None = Field(description="CVL when the collateralization was last recorded (at price_cents)")
    price_cents: int | None
    outstanding: int = Field(0, description="Total outstanding, USD cents: principal and posted interest, not "
                                            "defaulted, not accrued-unposted (what an active facility's CVL is "
                                            "measured against)")
    current_cvl: dict | None = Field(None, description="CVL at the latest recorded BTC price (pending: against the "
                                                       "facility amount)")
    current_price_cents: int | None = None
    drawn: int
    disbursed: int
    remaining: int
    activated_at: datetime | None
    maturity_date: date | None
    created_at: datetime
    updated_at: datetime

    capabilities: dict[str, bool] | None = CAPABILITIES_FIELD

    @classmethod
    def from_row(cls, r, price_cents: int | None = None) -> CreditFacilityOut:
        current = None
        if price_cents is not None and r.stage in (Stage.PENDING.value, Stage.ACTIVE.value):
            against = r.amount_cents if r.stage == Stage.PENDING.value else r.outstanding_cents
            current = cvl_json(cvl(r.collateral_sats, against, price_cents))
        return cls(
            id=str(r.id), public_id=r.public_id, customer_id=str(r.customer_id), customer_type=r.customer_type,
            amount=r.amount_cents, terms=Terms.model_validate(r.terms),
            custodian_id=str(r.custodian_id) if r.custodian_id else None, wallet=_wallet(r),
            collateral_id=str(r.collateral_id),
            stage=r.stage, proposal_status=r.proposal_status, approval_process_id=str(r.id),
            pending_status=r.pending_status, status=r.status,
            collateralization_state=r.collateralization or r.pending_collateralization,
            collateral=r.collateral_sats, cvl=_cvl(r.cvl), price_cents=r.price_cents, outstanding=r.outstanding_cents,
            current_cvl=current, current_price_cents=price_cents if current else None, drawn=r.drawn_cents,
            disbursed=r.disbursed_cents, remaining=r.amount_cents - r.drawn_cents, activated_at=r.activated_at,
            maturity_date=r.maturity_date, created_at=r.created_at, updated_at=r.updated_at)


def _wallet(r) -> FacilityWalletOut | None:
    wallet_id = getattr(r, "wallet_id", None)
    if wallet_id is None:
        return None
    return FacilityWalletOut(wallet_id=str(wallet_id), address=r.wallet_address, network=r.wallet_network,
                             custodian_id=str(r.wallet_custodian_id), provider=r.wallet_provider)


def _cvl(value: str | None) -> dict | None:
    from decimal import Decimal

    return None if value is None else cvl_json(Decimal(value))


class DisbursalOut(BaseModel):
    id: str
    public_id: int
    credit_facility_id: str
    amount: int
    status: ApiEnum[DisbursalStatus]
    is_initial: bool
    approval_process_id: str
    due_date: date
    overdue_date: date | None
    liquidation_date: date | None
    created_at: datetime
    concluded_at: datetime | None
    failure_code: str | None = None  # status FAILED: the refusal's code (e.g. ledger.account_locked)
    failure_reason: str | None = None  # and its detail

    capabilities: dict[str, bool] | None = CAPABILITIES_FIELD

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
    stage: ApiEnum[Stage]
    state: Collateralization
    cvl: dict
    collateral: int
    outstanding: int
    price_cents: int
    recorded_at: datetime | None
    reason: str | None = Field(None, description="What recomputed it: price, collateral, obligation, interest, "
                                                 "default, payment, activation")


class CollateralUpdateEntry(BaseModel):
    seq: int
    collateral_id: str
    previous: int
    collateral: int
    direction: CollateralDirection
    effective: date
    ledger_transaction_id: str | None
    recorded_by: str
    recorded_at: datetime | None


# Ledger read (credit.md §13) of the accounts that exist so far: the domain's summary is the body.
FacilityBalance = FacilityBalanceSummary


class ObligationOut(BaseModel):
    """An obligation (credit.md §7.1): principal of a disbursal, or interest of an accrual cycle."""

    id: str
    credit_facility_id: str
    obligation_type: ApiEnum[ObligationType]
    status: ApiEnum[ObligationStatus]
    reference: str
    amount: int = Field(description="Initial amount, cents")
    outstanding: int
    effective: date
    due_date: date
    overdue_date: date | None
    defaulted_date: date | None = Field(description="The liquidation date: the obligation defaults then (§7.5)")
    next_transition_date: date | None
    disbursal_id: str | None
    accrual_cycle_id: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, r) -> ObligationOut:
        return cls(id=str(r.id), credit_facility_id=str(r.facility_id), obligation_type=r.obligation_type,
                   status=r.status, reference=r.reference, amount=r.amount_cents, outstanding=r.outstanding_cents,
                   effective=r.effective, due_date=r.due_date, overdue_date=r.overdue_date,
                   defaulted_date=r.liquidation_date, next_transition_date=r.next_transition_date,
                   disbursal_id=r.disbursal_id and str(r.disbursal_id), accrual_cycle_id=r.cycle_id and str(r.cycle_id),
                   created_at=r.created_at)


class AccrualOut(BaseModel):
    n: int
    period_start: date
    period_end: date
    days: int
    principal: int = Field(description="Disbursed outstanding the period's interest was computed on, cents")
    amount: int
    ledger_transaction_id: str | None = Field(description="None for a zero accrual (nothing posted)")


class AccrualCycleOut(BaseModel):
    id: str
    credit_facility_id: str
    idx: int
    start_date: date
    end_date: date
    status: ApiEnum[AccrualCycleStatus]
    accrual_interval: ApiEnum[InterestInterval]
    annual_rate: str
    day_count_convention: ApiEnum[DayCountConvention]
    accrued: int = Field(description="Sum of the cycle's accruals so far, cents")
    next_accrual_period_end: date | None
    obligation_id: str | None
    accruals: list[AccrualOut]
    created_at: datetime

    @classmethod
    def from_row(cls, r, accruals: list) -> AccrualCycleOut:
        return cls(id=str(r.id), credit_facility_id=str(r.facility_id), idx=r.idx, start_date=r.start_date,
                   end_date=r.end_date, status=r.status, accrual_interval=r.accrual_interval,
                   annual_rate=str(r.annual_rate), day_count_convention=r.day_count, accrued=r.accrued_cents,
                   next_accrual_period_end=r.next_period_end, obligation_id=r.obligation_id and str(r.obligation_id),
                   accruals=[AccrualOut(n=a.n, period_start=a.period_start, period_end=a.period_end, days=a.days,
                                        principal=a.principal_cents, amount=a.amount_cents,
                                        ledger_transaction_id=a.ledger_tx_id and str(a.ledger_tx_id))
                             for a in accruals],
                   created_at=r.created_at)


class RepaymentPlanEntryOut(BaseModel):
    obligation_type: ApiEnum[ObligationType]
    status: ApiEnum[RepaymentStatus]
    initial: int
    outstanding: int
    paid: int = Field(description="Σ payments allocated to it (0 for a projection)")
    effective: date
    due_date: date
    overdue_date: date | None
    defaulted_date: date | None
    obligation_id: str | None = Field(description="None for a projected (UPCOMING) entry")
    accrual_cycle_idx: int | None


async def direction_param(direction: Direction = "desc") -> str:
    return direction


DirectionDep = Depends(direction_param)


async def proposal_status_param(status: ApiEnum[ProposalStatus] | None = None) -> str | None:
    return status


async def pending_status_param(status: ApiEnum[PendingStatus] | None = None) -> str | None:
    return status


async def facility_status_param(status: ApiEnum[FacilityStatus] | None = None) -> str | None:
    return status


async def collateralization_param(collateralization_state: Collateralization | None = None) -> str | None:
    return collateralization_state


STATUS_DEPS = {"proposal": Depends(proposal_status_param), "pending": Depends(pending_status_param),
               "facility": Depends(facility_status_param)}
CollateralizationDep = Depends(collateralization_param)


class PaymentCreate(BaseModel):
    amount: int = Field(gt=0, le=MAX_CENTS, description="USD cents, taken from the customer's deposit account")
    effective: date | None = Field(None, description="Back-dated effective date (needs "
                                   "credit:obligation:record-payment-allocation-with-date); default: the business date")


class PaymentAllocationOut(BaseModel):
    """One allocation (credit.md §8.2): ``payment_allocation_idx`` is the obligation's 1-based count."""

    id: str
    obligation_id: str
    obligation_type: ApiEnum[ObligationType]
    obligation_status: ApiEnum[ObligationStatus] = Field(description="When allocated: the receivable credited")
    amount: int
    payment_allocation_idx: int
    receivable_account_id: str
    ledger_transaction_id: str


class PaymentOut(BaseModel):
    id: str
    credit_facility_id: str
    amount: int
    allocated: int
    unallocated: int = Field(description="Left in the facility's payment-holding account (normally 0)")
    effective: date
    source_account_id: str
    ledger_transaction_id: str
    recorded_by: str
    created_at: datetime
    allocations: list[PaymentAllocationOut]

    @classmethod
    def from_rows(cls, r, allocations: list) -> PaymentOut:
        return cls(id=str(r.id), credit_facility_id=str(r.facility_id), amount=r.amount_cents,
                   allocated=r.allocated_cents, unallocated=r.amount_cents - r.allocated_cents, effective=r.effective,
                   source_account_id=str(r.source_account_id), ledger_transaction_id=str(r.ledger_tx_id),
                   recorded_by=r.recorded_by, created_at=r.created_at, allocations=[
                       PaymentAllocationOut(id=str(a.id), obligation_id=str(a.obligation_id),
                                            obligation_type=a.obligation_type, obligation_status=a.obligation_status,
                                            amount=a.amount_cents, payment_allocation_idx=a.idx,
                                            receivable_account_id=str(a.receivable_account_id),
                                            ledger_transaction_id=str(a.ledger_tx_id)) for a in allocations])
