"""Ledger errors (stable codes ``ledger.*``)."""

from __future__ import annotations

from domain.errors import Conflict, NotFound, ValidationFailed, register


@register
class UnbalancedTransaction(ValidationFailed):
    code = "ledger.unbalanced_transaction"
    title = "Transaction does not balance"


@register
class InvalidEntries(ValidationFailed):
    code = "ledger.invalid_entries"
    title = "Invalid ledger entries"


@register
class UnknownTemplate(ValidationFailed):
    code = "ledger.unknown_template"
    title = "Unknown transaction template"


@register
class InvalidTemplateParams(ValidationFailed):
    code = "ledger.invalid_template_params"
    title = "Invalid transaction template parameters"


@register
class IdempotencyConflict(Conflict):
    code = "ledger.idempotency_conflict"
    title = "Idempotency key already used for a different posting"


@register
class DuplicateTransaction(Conflict):
    code = "ledger.duplicate_transaction"
    title = "Transaction id or external id already used"


@register
class DuplicateAccount(Conflict):
    code = "ledger.duplicate_account"
    title = "Account or account set already exists with different attributes"


@register
class AccountLocked(ValidationFailed):
    code = "ledger.account_locked"
    title = "Account locked or unknown"


@register
class JournalLocked(ValidationFailed):
    code = "ledger.journal_locked"
    title = "Journal locked or unknown"


@register
class InsufficientBalance(ValidationFailed):
    code = "ledger.insufficient_balance"
    title = "Posting would take a controlled balance below zero"


@register
class MembershipCycle(ValidationFailed):
    code = "ledger.membership_cycle"
    title = "Account-set membership would create a cycle"


@register
class AccountNotFound(NotFound):
    code = "ledger.account_not_found"
    title = "Ledger account not found"


@register
class AccountSetNotFound(NotFound):
    code = "ledger.account_set_not_found"
    title = "Ledger account set not found"


@register
class TransactionNotFound(NotFound):
    code = "ledger.transaction_not_found"
    title = "Ledger transaction not found"
