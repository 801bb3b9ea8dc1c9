"""The credit facility lifecycle state (credit.md §1, §4, §5): one model from proposal to active.

A proposal, its pending facility and the active facility share one id (§0.4), so one
``FacilityState`` follows the loan through its stages; the ``CreditFacility`` workflow carries it
(also across continue-as-new) and the read model mirrors it. The rules here are pure: workflow
update validators run them before anything is recorded, activities run them again under a lock.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.credit.cvl import CollateralizationState, PendingCollateralizationState, cvl, cvl_json
from domain.credit.terms import TermValues
from domain.errors import Conflict, NotFound, ValidationFailed, register


class Stage(StrEnum):
    PROPOSAL = "proposal"
    PENDING = "pending"
    ACTIVE = "active"
    DENIED = "denied"


class ProposalStatus(StrEnum):
    PENDING_APPROVAL = "PendingApproval"
    APPROVED = "Approved"
    DENIED = "Denied"


class PendingStatus(StrEnum):
    PENDING_COLLATERALIZATION = "PendingCollateralization"
    COMPLETED = "Completed"


class FacilityStatus(StrEnum):
    ACTIVE = "Active"
    MATURED = "Matured"
    CLOSED = "Closed"


class DisbursalStatus(StrEnum):
    NEW = "New"
    APPROVED = "Approved"
    DENIED = "Denied"
    CONFIRMED = "Confirmed"


class FacilityState(BaseModel):
    """Everything the workflow needs to decide; amounts in cents / sats, CVL as a decimal string."""

    id: str
    customer_id: str
    customer_type: str
    amount_cents: int
    terms: TermValues
    collateral_id: str
    deposit_account_id: str
    stage: Stage = Stage.PROPOSAL
    proposal_status: ProposalStatus = ProposalStatus.PENDING_APPROVAL
    pending_status: PendingStatus | None = None
    status: FacilityStatus | None = None
    pending_collateralization: PendingCollateralizationState | None = None
    collateralization: CollateralizationState | None = None
    collateral_sats: int = 0
    collateral_seq: int = 0
    cvl: str | None = None
    price_cents: int | None = None
    drawn_cents: int = 0  # facility amount drawn, including disbursals awaiting approval
    disbursed_cents: int = 0  # confirmed principal
    in_flight: dict[str, int] = Field(default_factory=dict)  # disbursal id -> amount awaiting approval
    disbursal_count: int = 0
    activated_at: datetime | None = None
    maturity_date: date | None = None

    @property
    def status_label(self) -> str:
        """One word for the Web UI's LanaStatus search attribute."""
        if self.stage is Stage.ACTIVE and self.status:
            return self.status.value
        if self.stage is Stage.PENDING and self.pending_status:
            return self.pending_status.value
        return self.proposal_status.value

    @property
    def collateralization_label(self) -> str:
        state = self.collateralization or self.pending_collateralization
        return state.value if state else "NotYetCollateralized"

    @property
    def remaining_cents(self) -> int:
        return self.amount_cents - self.drawn_cents

    def cvl_out(self) -> dict | None:
        return None if self.cvl is None else cvl_json(Decimal(self.cvl))


# --- errors ------------------------------------------------------------------------------------
@register
class FacilityNotFound(NotFound):
    code = "credit.facility_not_found"
    title = "Credit facility not found"


@register
class DisbursalNotFound(NotFound):
    code = "credit.disbursal_not_found"
    title = "Disbursal not found"


@register
class CollateralUpdateNotAllowed(Conflict):
    code = "credit.collateral_update_not_allowed"
    title = "Collateral can only be updated on a pending or active facility"


@register
class InvalidCollateralAmount(ValidationFailed):
    code = "credit.invalid_collateral_amount"
    title = "Collateral must be a non-negative number of satoshis"


@register
class DisbursalOnInactiveFacility(Conflict):
    code = "credit.disbursal_on_inactive_facility"
    title = "Disbursals need an active facility"


@register
class OnlyOneDisbursalAllowed(Conflict):
    code = "credit.only_one_disbursal_allowed"
    title = "A single-disbursal facility was fully drawn at activation"


@register
class DisbursalPastMaturityDate(ValidationFailed):
    code = "credit.disbursal_past_maturity_date"
    title = "The facility has reached its maturity date"


@register
class InvalidDisbursalAmount(ValidationFailed):
    code = "credit.invalid_disbursal_amount"
    title = "A disbursal amount must be a positive number of cents"


@register
class DisbursalAmountTooLarge(ValidationFailed):
    code = "credit.disbursal_amount_too_large"
    title = "The disbursal exceeds the facility's remaining amount"


@register
class BelowMarginLimit(ValidationFailed):
    code = "credit.below_margin_limit"
    title = "After the disbursal the CVL would be below the margin-call CVL"


@register
class DepositAccountNotFound(ValidationFailed):
    code = "credit.deposit_account_not_found"
    title = "The customer has no deposit account to disburse into"


# --- rules -------------------------------------------------------------------------------------
MAX_SATS = 21_000_000 * 100_000_000


def check_collateral_update(state: FacilityState, collateral_sats: int) -> None:
    if state.stage not in (Stage.PENDING, Stage.ACTIVE) or state.status is FacilityStatus.CLOSED:
        raise CollateralUpdateNotAllowed(f"Facility {state.id} is {state.status_label}.")
    if not 0 <= collateral_sats <= MAX_SATS:
        raise InvalidCollateralAmount(f"{collateral_sats} is not a valid amount of satoshis.", field="collateral")


def check_disbursal(state: FacilityState, amount_cents: int, now: datetime) -> None:
    """§5.1 checks 3, 4, 5, 7 and the remaining amount (8); the CVL check (6) needs the price."""
    if state.stage is not Stage.ACTIVE or state.status is not FacilityStatus.ACTIVE:
        raise DisbursalOnInactiveFacility(f"Facility {state.id} is {state.status_label}.")
    if state.terms.is_single_disbursal:
        raise OnlyOneDisbursalAllowed("The single disbursal was made at activation.")
    if state.maturity_date and now >= datetime.combine(state.maturity_date, time(), tzinfo=now.tzinfo):
        raise DisbursalPastMaturityDate(f"The facility matured on {state.maturity_date}.")
    if amount_cents <= 0:
        raise InvalidDisbursalAmount("The amount must be positive.", field="amount")
    if amount_cents > state.remaining_cents:
        raise DisbursalAmountTooLarge(
            f"{amount_cents} cents requested, {state.remaining_cents} cents remain on the facility.",
            field="amount", remaining_cents=state.remaining_cents)


def check_disbursal_cvl(terms: TermValues, collateral_sats: int, outstanding_cents: int, amount_cents: int,
                        price_cents: int) -> Decimal:
    """§5.1 #6: ``CVL(collateral, outstanding + amount) >= margin_call_cvl``; returns that CVL."""
    value = cvl(collateral_sats, outstanding_cents + amount_cents, price_cents)
    if not terms.is_disbursal_allowed(value):
        raise BelowMarginLimit(
            f"CVL after the disbursal would be {value}, below the margin-call CVL {terms.margin_call_cvl}.",
            cvl=str(value), margin_call_cvl=str(terms.margin_call_cvl))
    return value


def initial_disbursal_cents(terms: TermValues, amount_cents: int) -> int:
    """§4.4 step 6 / §11: the full amount (single policy), the fee (multiple with a fee), else 0."""
    if terms.is_single_disbursal:
        return amount_cents
    return terms.one_time_fee_cents(amount_cents)
