"""Deposit accounts: open (two ledger accounts placed by accounting), freeze, unfreeze, close,
bulk updates per holder (KYC consequences, activity class) — customers-deposits.md §8, §9."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.accounting import placement
from activities.customers.repository import customer_row, ensure_customer_verified
from activities.deposits import store
from domain.accounting.product_sets import (
    DEPOSIT_OMNIBUS,
    CustomerType,
    deposit_accounts,
    frozen_deposit_accounts,
)
from domain.deposits.errors import (
    DepositAccountAlreadyExists,
    UnsupportedCustomerTypeForDeposit,
)
from domain.deposits.model import AccountStatus, DepositAccount

_NS = uuid.UUID("0b7d3c1e-5b0e-4f3a-8c55-d3e1a6c0f009")
OMNIBUS_ID = placement.omnibus_account_id(DEPOSIT_OMNIBUS)
# lana has no deposit account set for this type; the spec rule is a validation error (§2)
UNSUPPORTED_TYPES = {CustomerType.FOREIGN_AGENCY_OR_SUBSIDIARY.value}


def frozen_account_id(account_id: str) -> str:
    return str(uuid.uuid5(_NS, f"frozen:{account_id}"))


async def open_account(conn: AsyncConnection, account_id: str, customer_id: str, actor: str, *,
                       kyc_required: bool) -> bool:
    """Open the customer's deposit account; False when this id already exists (a retried create)."""
    existing = (await conn.execute(select(store.deposit_accounts).where(
        store.deposit_accounts.c.holder_id == customer_id))).first()
    if existing is not None:
        if str(existing.id) == account_id:
            return False
        raise DepositAccountAlreadyExists(f"Customer {customer_id} already has deposit account {existing.id}.",
                                          deposit_account_id=str(existing.id))
    row = await customer_row(conn, customer_id)
    await ensure_customer_verified(conn, customer_id, kyc_required=kyc_required)
    if row.customer_type in UNSUPPORTED_TYPES:
        raise UnsupportedCustomerTypeForDeposit(f"Customer type {row.customer_type} has no deposit product.",
                                                customer_type=row.customer_type)
    ct = CustomerType(row.customer_type)
    frozen_id = frozen_account_id(account_id)
    await placement.omnibus_account(conn, DEPOSIT_OMNIBUS)
    # settled control: initiating a withdrawal moves settled → pending, so "available" (settled +
    # pending) would not drop; the settled balance is what must never go below zero (§10).
    await placement.product_account(
        conn, deposit_accounts(ct), account_id=uuid.UUID(account_id), code=f"DEP.{account_id}",
        name=f"Deposit Account {customer_id}", external_id=f"deposit-customer-account:{customer_id}",
        control="settled")
    await placement.product_account(
        conn, frozen_deposit_accounts(ct), account_id=uuid.UUID(frozen_id), code=f"DEP-FRZ.{account_id}",
        name=f"Frozen Deposit Account {customer_id}", external_id=f"frozen-deposit-customer-account:{customer_id}")
    account = DepositAccount.open(account_id, customer_id, ct.value, frozen_id, actor, row.activity)
    await store.insert_account(conn, account)
    return True


async def freeze(conn: AsyncConnection, account_id: str, actor: str, reason: str | None = None) -> DepositAccount:
    """Move the settled balance to the frozen twin, then lock the main ledger account (§8.4)."""
    account = await store.lock_account(conn, account_id, exclusive=True)
    if account.status == AccountStatus.CLOSED:
        account.freeze(0, actor)  # raises CannotUpdateClosedAccount
    if account.status == AccountStatus.FROZEN:
        return account
    settled = (await ledger.balance(conn, uuid.UUID(account_id), "USD")).settled
    if settled > 0:
        await ledger.post(conn, "FREEZE_ACCOUNT", {"account_id": account_id,
                                                   "frozen_accounts_account_id": account.frozen_account_id,
                                                   "amount": settled},
                          idempotency_key=f"deposit-account:{account_id}:freeze:{account.version}")
    account.freeze(settled, actor, reason)
    await ledger.set_account_status(conn, uuid.UUID(account_id), "locked")
    await store.save_account(conn, account)
    return account


async def unfreeze(conn: AsyncConnection, account_id: str, actor: str, reason: str | None = None) -> DepositAccount:
    account = await store.lock_account(conn, account_id, exclusive=True)
    if account.status == AccountStatus.CLOSED:
        account.unfreeze(0, actor)  # raises CannotUpdateClosedAccount
    if account.status == AccountStatus.ACTIVE:
        return account
    await ledger.set_account_status(conn, uuid.UUID(account_id), "active")
    moved = (await ledger.balance(conn, uuid.UUID(account.frozen_account_id), "USD")).settled
    if moved > 0:
        await ledger.post(conn, "UNFREEZE_ACCOUNT", {"account_id": account_id,
                                                     "frozen_accounts_account_id": account.frozen_account_id,
                                                     "amount": moved},
                          idempotency_key=f"deposit-account:{account_id}:unfreeze:{account.version}")
    account.unfreeze(moved, actor, reason)
    await store.save_account(conn, account)
    return account


async def close(conn: AsyncConnection, account_id: str, actor: str) -> DepositAccount:
    account = await store.lock_account(conn, account_id, exclusive=True)
    if not account.check_close():
        return account
    main = await ledger.balance(conn, uuid.UUID(account_id), "USD")
    account.check_close((main.settled, main.pending))  # raises BalanceIsNotZero
    account.close(actor)
    await ledger.set_account_status(conn, uuid.UUID(account_id), "locked")
    await store.save_account(conn, account)
    return account


async def holder_account_ids(conn: AsyncConnection, customer_id: str) -> list[str]:
    rows = await conn.execute(select(store.deposit_accounts.c.id).where(
        store.deposit_accounts.c.holder_id == customer_id).order_by(store.deposit_accounts.c.id))
    return [str(r.id) for r in rows]


async def set_status_for_holder(conn: AsyncConnection, customer_id: str, frozen: bool, actor: str,
                                reason: str) -> list[str]:
    """Freeze or unfreeze every account of the holder; closed ones are skipped. Returns ids changed."""
    changed = []
    for account_id in await holder_account_ids(conn, customer_id):
        account = await store.lock_account(conn, account_id, exclusive=True)
        if account.status == AccountStatus.CLOSED:
            continue
        if frozen and account.status == AccountStatus.ACTIVE:
            await freeze(conn, account_id, actor, reason)
            changed.append(account_id)
        elif not frozen and account.status == AccountStatus.FROZEN:
            await unfreeze(conn, account_id, actor, reason)
            changed.append(account_id)
    return changed


async def set_activity_for_holder(conn: AsyncConnection, customer_id: str, activity: str) -> None:
    for account_id in await holder_account_ids(conn, customer_id):
        account = await store.lock_account(conn, account_id, exclusive=True)
        if account.set_activity(activity):
            await store.save_account(conn, account)
