"""Deposits and withdrawals: each command is ONE DB transaction — entity events + read model +
ledger posting (idempotency key from business identity) + customer activity.

A retried command (activity retry, API retry) finds the entity already in its target state and
posts nothing; even if it did post again, the ledger's idempotency key would replay the original.
Over-balance is refused by the ledger's settled-balance control under its row locks, never by a
read-then-check here, so two concurrent withdrawals cannot both reserve the same funds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.customers.repository import record_customer_activity
from activities.deposits import store
from activities.deposits.accounts import OMNIBUS_ID
from activities.governance import processes
from domain.deposits.errors import InsufficientFunds, ReferenceTaken
from domain.deposits.model import Deposit, DepositAccount, DepositStatus, Withdrawal
from domain.ledger.errors import InsufficientBalance


async def _post(conn: AsyncConnection, code: str, account_id: str, amount: int, key: str,
                tx_id: str | None = None, what: str = "") -> str:
    params = {"deposit_omnibus_account_id": OMNIBUS_ID, "credit_account_id": account_id, "amount": amount}
    try:
        tx = await ledger.post(conn, code, params, idempotency_key=key,
                               tx_id=uuid.UUID(tx_id) if tx_id else None)
    except InsufficientBalance as exc:
        short = exc.extra.get("shortfall")
        raise InsufficientFunds(
            f"Deposit account {account_id} lacks {short} cents of available funds to {what} {amount} cents.",
            deposit_account_id=account_id, requested=amount, shortfall=short) from exc
    return str(tx.id)


async def _touch(conn: AsyncConnection, account: DepositAccount) -> None:
    await record_customer_activity(conn, account.holder_id, datetime.now(UTC))


def _same(row, account_id: str, amount: int, reference: str, kind: str):
    if (str(row.deposit_account_id), row.amount, row.reference) != (account_id, amount, reference):
        raise ReferenceTaken(f"Reference {reference!r} is already used by {kind} {row.id} "
                             "with a different account or amount.", reference=reference)
    return row


async def record_deposit(conn: AsyncConnection, deposit_id: str, account_id: str, amount: int,
                         reference: str | None, actor: str) -> tuple[object, bool]:
    """Record a deposit (posted at once); a repeat with the same reference returns the original."""
    reference = reference or deposit_id
    account = await store.lock_account(conn, account_id)
    found = await store.find_by_id_or_reference(conn, store.deposits, deposit_id, reference)
    if found is not None:
        return _same(found, account_id, amount, reference, "deposit"), False
    account.ensure_active("record a deposit")
    deposit = Deposit.record_new(deposit_id, account_id, amount, reference, actor)
    row = await store.claim_deposit(conn, deposit)
    if row is None:  # lost a race on the same id / reference
        found = await store.find_by_id_or_reference(conn, store.deposits, deposit_id, reference)
        return _same(found, account_id, amount, reference, "deposit"), False
    await _post(conn, "RECORD_DEPOSIT", account_id, amount, f"deposit:{deposit_id}:record", tx_id=deposit_id)
    await _touch(conn, account)
    return row, True


async def revert_deposit(conn: AsyncConnection, deposit_id: str, actor: str) -> None:
    deposit = await store.load_deposit(conn, deposit_id)
    account = await store.lock_account(conn, deposit.account_id)
    deposit = await store.load_deposit(conn, deposit_id)
    if deposit.status == DepositStatus.REVERTED:
        return
    account.ensure_active("revert a deposit")
    tx = await _post(conn, "REVERT_DEPOSIT", deposit.account_id, deposit.amount, f"deposit:{deposit_id}:revert",
                     what="revert a deposit of")
    deposit.revert(tx, actor)
    await store.save_deposit(conn, deposit)
    await _touch(conn, account)


async def initiate_withdrawal(conn: AsyncConnection, withdrawal_id: str, account_id: str, amount: int,
                              reference: str | None, actor: str) -> tuple[object, bool]:
    """Reserve the funds (INITIATE_WITHDRAW: settled → pending); refused if settled < amount."""
    reference = reference or withdrawal_id
    account = await store.lock_account(conn, account_id)
    found = await store.find_by_id_or_reference(conn, store.withdrawals, withdrawal_id, reference)
    if found is not None:
        return _same(found, account_id, amount, reference, "withdrawal"), False
    account.ensure_active("initiate a withdrawal")
    w = Withdrawal.initiate(withdrawal_id, account_id, amount, reference, actor)
    row = await store.claim_withdrawal(conn, w)
    if row is None:
        found = await store.find_by_id_or_reference(conn, store.withdrawals, withdrawal_id, reference)
        return _same(found, account_id, amount, reference, "withdrawal"), False
    await _post(conn, "INITIATE_WITHDRAW", account_id, amount, f"withdrawal:{withdrawal_id}:initiate",
                tx_id=withdrawal_id, what="withdraw")
    # The approval process exists from the start, so the id the API returns is readable at once.
    await processes.start(conn, withdrawal_id, "withdraw", f"withdrawal:{withdrawal_id}")
    await _touch(conn, account)
    return row, True


async def conclude_approval(conn: AsyncConnection, withdrawal_id: str, approved: bool) -> tuple[Withdrawal, bool]:
    """Governance decided: approved → PENDING_CONFIRMATION; denied → DENIED + release (DENY_WITHDRAW).

    No account-status check: a denial on a frozen account hits the locked ledger account; the
    refusal reaches the workflow, which waits for the unfreeze (customers-deposits.md §8.3).
    """
    w = await store.load_withdrawal(conn, withdrawal_id)
    await store.lock_account(conn, w.account_id)
    w = await store.load_withdrawal(conn, withdrawal_id)
    if w.conclude_approval(approved):
        tx = await _post(conn, "DENY_WITHDRAW", w.account_id, w.amount, f"withdrawal:{withdrawal_id}:deny")
        w.deny(tx)
    changed = bool(w.pending)
    await store.save_withdrawal(conn, w)
    return w, changed


@dataclass(frozen=True)
class _Step:
    """One operator step of a withdrawal: its rule, its transition, its template and key suffix."""

    name: str
    check: Callable[[Withdrawal], bool]
    apply: Callable[[Withdrawal, str, str], None]

    @property
    def template(self) -> str:
        return f"{self.name.upper()}_WITHDRAW"


CONFIRM = _Step("confirm", Withdrawal.check_confirm, Withdrawal.confirm)
CANCEL = _Step("cancel", Withdrawal.check_cancel, Withdrawal.cancel)
REVERT = _Step("revert", Withdrawal.check_revert, Withdrawal.revert)


async def _finish(conn: AsyncConnection, withdrawal_id: str, actor: str, step: _Step) -> Withdrawal:
    """Confirm, cancel or revert: post ``<STEP>_WITHDRAW`` once (key ``withdrawal:{id}:<step>``)."""
    w = await store.load_withdrawal(conn, withdrawal_id)
    account = await store.lock_account(conn, w.account_id)
    w = await store.load_withdrawal(conn, withdrawal_id)
    if step.check(w):
        account.ensure_active(f"{step.name} a withdrawal")
        tx = await _post(conn, step.template, w.account_id, w.amount, f"withdrawal:{withdrawal_id}:{step.name}")
        step.apply(w, tx, actor)
        await store.save_withdrawal(conn, w)
        await _touch(conn, account)
    return w


async def confirm_withdrawal(conn: AsyncConnection, withdrawal_id: str, actor: str) -> Withdrawal:
    return await _finish(conn, withdrawal_id, actor, CONFIRM)


async def cancel_withdrawal(conn: AsyncConnection, withdrawal_id: str, actor: str) -> Withdrawal:
    """Cancel (releases the reservation); a pending approval process ends with it (cancelled)."""
    w = await _finish(conn, withdrawal_id, actor, CANCEL)
    if w.approved is None:
        await processes.cancel(conn, withdrawal_id, f"withdrawal cancelled by {actor}")
    return w


async def revert_withdrawal(conn: AsyncConnection, withdrawal_id: str, actor: str) -> Withdrawal:
    return await _finish(conn, withdrawal_id, actor, REVERT)
