"""Map ``ledger_post``'s SQLSTATEs (class LG, see migrations 0002_ledger and 0008_accounting) to domain errors."""

from __future__ import annotations

from typing import Any

from domain.errors import LanaError
from domain.ledger.errors import (
    AccountLocked,
    DuplicateTransaction,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidEntries,
    JournalLocked,
    UnbalancedTransaction,
)


def map_db_error(exc: Any) -> LanaError | None:
    """The domain error for a ledger SQLSTATE, or None for any other database error."""
    state = getattr(exc, "sqlstate", None)
    msg = getattr(exc, "message", None) or str(exc)
    if state == "LG001":
        return IdempotencyConflict(f"Idempotency key {msg!r} was used for a different posting.",
                                   idempotency_key=msg)
    if state == "LG002":
        return DuplicateTransaction(f"Transaction id {msg} (or its external id) is already used.")
    if state == "LG003":
        currency, layer, amount = msg.split("/")
        return UnbalancedTransaction(f"Debits and credits differ by {amount} on {currency}/{layer}.",
                                     currency=currency, layer=layer, amount=int(amount))
    if state == "LG004":
        return AccountLocked(f"Account(s) locked or unknown: {msg}.", accounts=msg.split(","))
    if state == "LG005":
        return JournalLocked(f"Journal {msg} is locked or unknown.")
    if state == "LG006":
        account, currency, control, shortfall = msg.split("/")
        return InsufficientBalance(
            f"Account {account} would go {shortfall} below zero on its {control} {currency} balance.",
            account_id=account, currency=currency, control=control, shortfall=int(shortfall))
    if state == "LG007":
        return InvalidEntries(msg)
    if state in ("LG008", "LG009"):  # period controls (migration 0008_accounting)
        from domain.accounting.errors import FiscalYearNotOpen, PeriodClosed

        effective, limit = msg.split("/")
        if state == "LG008":
            return PeriodClosed(f"Effective date {effective} is in a closed period (closed through {limit}); "
                                "post corrections into the open period.", effective=effective, closed_through=limit)
        return FiscalYearNotOpen(f"Effective date {effective} is after the end of the latest opened fiscal year "
                                 f"({limit}); open the next fiscal year first.", effective=effective, open_until=limit)
    return None
