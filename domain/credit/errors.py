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


# --- payments and completion (credit.md §8, §10) -------------------------------------------------
@register
class PaymentOnClosedFacility(Conflict):
    code = "credit.payment_on_closed_facility"
    title = "A closed facility takes no payments"


@register
class PaymentOnInactiveFacility(Conflict):
    code = "credit.payment_on_inactive_facility"
    title = "Payments need an active or matured facility"


@register
class InvalidPaymentAmount(ValidationFailed):
    code = "credit.invalid_payment_amount"
    title = "A payment amount must be a positive number of cents"


@register
class PaymentBeforeFacilityActivation(ValidationFailed):
    code = "credit.payment_before_facility_activation"
    title = "A payment cannot be effective before the facility's activation date"


@register
class PaymentEffectiveInFuture(ValidationFailed):
    code = "credit.payment_effective_in_future"
    title = "A payment cannot be effective after the current business date"


@register
class PaymentAmountGreaterThanOutstanding(ValidationFailed):
    code = "credit.payment_amount_greater_than_outstanding_obligations"
    title = "The payment exceeds what the facility has outstanding"


@register
class InsufficientDepositBalance(ValidationFailed):
    code = "credit.insufficient_deposit_balance"
    title = "The customer's deposit account does not hold the payment amount"


@register
class PaymentNotFound(NotFound):
    code = "credit.payment_not_found"
    title = "Payment not found"


@register
class FacilityHasOutstanding(Conflict):
    code = "credit.outstanding_amount"
    title = "The facility still has amounts outstanding"


@register
class CompletionNotAllowed(Conflict):
    code = "credit.completion_not_allowed"
    title = "Only an active or matured facility can be completed"


@register
class NoActiveLiquidation(Conflict):
    code = "credit.no_active_liquidation"
    title = "The facility has no open liquidation"


@register
class LiquidationNotFound(NotFound):
    code = "credit.liquidation_not_found"
    title = "Liquidation not found"


@register
class LiquidationProceedsAlreadyReceived(Conflict):
    code = "credit.liquidation_proceeds_already_received"
    title = "The proceeds of this liquidation were already received"


@register
class CollateralSentExceedsCollateral(ValidationFailed):
    code = "credit.liquidation_amount_exceeds_collateral"
    title = "More collateral sent to the liquidator than the facility holds"


@register
class InvalidLiquidationAmount(ValidationFailed):
    code = "credit.invalid_liquidation_amount"
    title = "The amount must be a positive whole number"


@register
class ManualUpdateWithCustodian(Conflict):
    """custody-price-reports.md §1.6: a facility whose collateral a custodian reports (a wallet of a
    non-manual provider) takes no manual collateral update; the custody sync moves it."""

    code = "credit.manual_update_with_custodian"
    title = "Cannot update collateral with a custodian"
