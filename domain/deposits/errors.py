"""Deposit module errors (stable codes ``deposit.*``; customers-deposits.md §8, §11, §12).

Wrong-state errors are 409 and name the state they met; failed preconditions on input are 422.
"""

from __future__ import annotations

from domain.errors import Conflict, NotFound, ValidationFailed, register


@register
class DepositAccountNotFound(NotFound):
    code = "deposit.deposit_account_not_found"
    title = "Deposit account not found"


@register
class DepositNotFound(NotFound):
    code = "deposit.deposit_not_found"
    title = "Deposit not found"


@register
class WithdrawalNotFound(NotFound):
    code = "deposit.withdrawal_not_found"
    title = "Withdrawal not found"


@register
class DepositAccountAlreadyExists(Conflict):
    code = "deposit.deposit_account_already_exists"
    title = "The customer already has a deposit account"


@register
class UnsupportedCustomerTypeForDeposit(ValidationFailed):
    code = "deposit.unsupported_customer_type_for_deposit"
    title = "No deposit product for this customer type"


@register
class DepositAccountFrozen(Conflict):
    code = "deposit.deposit_account_frozen"
    title = "Deposit account is frozen"


@register
class DepositAccountClosed(Conflict):
    code = "deposit.deposit_account_closed"
    title = "Deposit account is closed"


@register
class CannotUpdateClosedAccount(Conflict):
    code = "deposit.cannot_update_closed_account"
    title = "A closed deposit account cannot change status"


@register
class CannotUpdateFrozenAccount(Conflict):
    code = "deposit.cannot_update_frozen_account"
    title = "A frozen deposit account cannot be closed (unfreeze it first)"


@register
class BalanceIsNotZero(ValidationFailed):
    code = "deposit.balance_is_not_zero"
    title = "Deposit account balance is not zero"


@register
class InsufficientFunds(ValidationFailed):
    code = "deposit.insufficient_funds"
    title = "Not enough available funds"


@register
class ReferenceTaken(Conflict):
    code = "deposit.reference_taken"
    title = "Reference already used by a different deposit or withdrawal"


@register
class DepositAlreadyReverted(Conflict):
    code = "deposit.deposit_already_reverted"
    title = "Deposit already reverted"


@register
class NotApproved(Conflict):
    code = "deposit.not_approved"
    title = "Withdrawal is not approved"


@register
class AlreadyCancelled(Conflict):
    code = "deposit.already_cancelled"
    title = "Withdrawal is cancelled"


@register
class AlreadyConfirmed(Conflict):
    code = "deposit.already_confirmed"
    title = "Withdrawal is already confirmed"


@register
class NotConfirmed(Conflict):
    code = "deposit.not_confirmed"
    title = "Withdrawal is not confirmed"


@register
class InvalidWithdrawalState(Conflict):
    code = "deposit.invalid_withdrawal_state"
    title = "Operation not allowed in the withdrawal's state"
