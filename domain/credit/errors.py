"""Errors of the credit facility lifecycle (stable codes ``credit.*``)."""

from __future__ import annotations

from domain.errors import Conflict, NotFound, ValidationFailed, register


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


@register
class DepositAccountNotActive(Conflict):
    code = "credit.deposit_account_not_active"
    title = "The customer's deposit account is frozen or closed"


@register
class CustomerDecisionNotPending(Conflict):
    code = "credit.customer_decision_not_pending"
    title = "The proposal is not awaiting the customer's decision"


@register
class AccrualCycleNotAccrued(Conflict):
    code = "credit.accrual_cycle_not_accrued"
    title = "The accrual cycle still has accrual periods to accrue"
