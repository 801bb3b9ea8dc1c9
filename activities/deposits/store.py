"""Read-model tables (migration 0009_deposits) and load/save of the three aggregates.

Every save appends the entity's events (optimistic concurrency) and refreshes its read-model row in
the caller's transaction. Status-sensitive operations first lock the account's row
(``lock_account``): postings take it FOR SHARE, status changes (freeze, unfreeze, close) FOR UPDATE,
so no deposit or withdrawal can slip past a concurrent freeze.

Lock order (docs/deposits.md, "Lock order"): customer row → deposit account row → ledger rows.
``lock_account`` takes the holder's customer row first, so a deposit (which later moves the
customer's last activity) and a KYC freeze (which writes the customer, then the accounts) queue on
the customer instead of deadlocking.
"""

from __future__ import annotations

import functools

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from domain.deposits.errors import DepositAccountNotFound, DepositNotFound, WithdrawalNotFound
from domain.deposits.model import Deposit, DepositAccount, Withdrawal

metadata = MetaData()


def _ts(name: str) -> Column:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


deposit_accounts = Table(
    "deposit_accounts", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("public_id", String, nullable=False),
    Column("holder_id", UUID(as_uuid=False), nullable=False),
    Column("customer_type", String(32), nullable=False),
    Column("frozen_account_id", UUID(as_uuid=False), nullable=False),
    Column("status", String(16), nullable=False),
    Column("activity", String(16), nullable=False),
    Column("version", BigInteger, nullable=False),
    _ts("created_at"), _ts("updated_at"),
)

deposits = Table(
    "deposits", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("public_id", String, nullable=False),
    Column("deposit_account_id", UUID(as_uuid=False), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reference", String, nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", BigInteger, nullable=False),
    _ts("created_at"), _ts("updated_at"),
)

withdrawals = Table(
    "withdrawals", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("public_id", String, nullable=False),
    Column("deposit_account_id", UUID(as_uuid=False), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reference", String, nullable=False),
    Column("status", String(24), nullable=False),
    Column("approved", Boolean),
    Column("version", BigInteger, nullable=False),
    _ts("created_at"), _ts("updated_at"),
)

_PUBLIC_ID = text("nextval('public_id_seq')::text")


# Hot-path statements are built once (docs/performance.md, 2026-12-02).
_LOCK_HOLDER = text("SELECT 1 FROM customers WHERE id = (SELECT holder_id FROM deposit_accounts"
                    " WHERE id = CAST(:id AS uuid)) FOR NO KEY UPDATE")
_LOCK_ACCOUNT = text("SELECT id FROM deposit_accounts WHERE id = CAST(:id AS uuid) FOR SHARE")
_LOCK_ACCOUNT_EXCLUSIVE = text("SELECT id FROM deposit_accounts WHERE id = CAST(:id AS uuid) FOR UPDATE")


async def lock_account(conn: AsyncConnection, account_id: str, *, exclusive: bool = False) -> DepositAccount:
    # The customer first (lock order above). FOR NO KEY UPDATE is what the customer's own updates
    # take, so this queues behind a KYC transaction and never upgrades a weaker lock later.
    await conn.execute(_LOCK_HOLDER, {"id": account_id})
    row = (await conn.execute(_LOCK_ACCOUNT_EXCLUSIVE if exclusive else _LOCK_ACCOUNT, {"id": account_id})).first()
    if row is None:
        raise DepositAccountNotFound(f"Deposit account {account_id} does not exist.")
    return await event_store.load_entity(conn, DepositAccount, account_id)


async def insert_account(conn: AsyncConnection, a: DepositAccount) -> None:
    await conn.execute(insert(deposit_accounts).values(
        id=a.id, public_id=_PUBLIC_ID, holder_id=a.holder_id, customer_type=a.customer_type,
        frozen_account_id=a.frozen_account_id, status=a.status.value, activity=a.activity,
        version=a.version + len(a.pending)))
    await event_store.save_entity(conn, a)


async def save_account(conn: AsyncConnection, a: DepositAccount) -> None:
    if not a.pending:
        return
    await event_store.save_entity(conn, a)
    await conn.execute(update(deposit_accounts).where(deposit_accounts.c.id == a.id).values(
        status=a.status.value, activity=a.activity, version=a.version, updated_at=func.now()))


def _claim(table: Table):
    # bind names differ from the column names: insert() and update() reserve those for themselves
    return insert(table).values(
        id=bindparam("b_id"), public_id=_PUBLIC_ID, deposit_account_id=bindparam("b_account_id"),
        amount=bindparam("b_amount"), reference=bindparam("b_reference"), status=bindparam("b_status"),
        version=bindparam("b_version")).on_conflict_do_nothing().returning(*table.c)


def _claim_params(x: Deposit | Withdrawal) -> dict:
    return {"b_id": x.id, "b_account_id": x.account_id, "b_amount": x.amount, "b_reference": x.reference,
            "b_status": x.status.value, "b_version": len(x.pending)}


async def claim_deposit(conn: AsyncConnection, d: Deposit):
    """Insert the read-model row of a new deposit and append its events; the row, or None when the
    id or the reference is already taken (nothing appended). The row is written at the version the
    events reach, so nothing is updated after."""
    row = (await conn.execute(_CLAIM_DEPOSIT, _claim_params(d))).first()
    if row is not None:
        await event_store.save_entity(conn, d)
    return row


async def claim_withdrawal(conn: AsyncConnection, w: Withdrawal):
    """As ``claim_deposit``, for a new withdrawal."""
    row = (await conn.execute(_CLAIM_WITHDRAWAL, _claim_params(w))).first()
    if row is not None:
        await event_store.save_entity(conn, w)
    return row


async def save_deposit(conn: AsyncConnection, d: Deposit) -> None:
    if not d.pending:
        return
    await event_store.save_entity(conn, d)
    await conn.execute(_SAVE_DEPOSIT, {"b_id": d.id, "b_status": d.status.value, "b_version": d.version})


async def save_withdrawal(conn: AsyncConnection, w: Withdrawal) -> None:
    if not w.pending:
        return
    await event_store.save_entity(conn, w)
    await conn.execute(_SAVE_WITHDRAWAL, {"b_id": w.id, "b_status": w.status.value, "b_approved": w.approved,
                                          "b_version": w.version})


async def load_deposit(conn: AsyncConnection, deposit_id: str) -> Deposit:
    d = await event_store.load_entity(conn, Deposit, deposit_id)
    if d is None:
        raise DepositNotFound(f"Deposit {deposit_id} does not exist.")
    return d


async def load_withdrawal(conn: AsyncConnection, withdrawal_id: str) -> Withdrawal:
    w = await event_store.load_entity(conn, Withdrawal, withdrawal_id)
    if w is None:
        raise WithdrawalNotFound(f"Withdrawal {withdrawal_id} does not exist.")
    return w


@functools.cache  # one statement per table, built at its first use
def _by_id_or_reference(table: Table):
    entity_id = bindparam("id", type_=table.c.id.type)
    return (select(table).where((table.c.id == entity_id) | (table.c.reference == bindparam("reference")))
            .order_by((table.c.id == entity_id).desc()).limit(1))


@functools.cache
def _by_id(table: Table):
    return select(table).where(table.c.id == bindparam("id"))


async def find_by_id_or_reference(conn: AsyncConnection, table: Table, entity_id: str, reference: str):
    return (await conn.execute(_by_id_or_reference(table), {"id": entity_id, "reference": reference})).first()


async def row_of(conn: AsyncConnection, table: Table, entity_id: str, missing: type[Exception]):
    row = (await conn.execute(_by_id(table), {"id": entity_id})).first()
    if row is None:
        raise missing(f"{table.name[:-1].replace('_', ' ').capitalize()} {entity_id} does not exist.")
    return row


_CLAIM_DEPOSIT = _claim(deposits)
_CLAIM_WITHDRAWAL = _claim(withdrawals)
_SAVE_DEPOSIT = update(deposits).where(deposits.c.id == bindparam("b_id")).values(
    status=bindparam("b_status"), version=bindparam("b_version"), updated_at=func.now())
_SAVE_WITHDRAWAL = update(withdrawals).where(withdrawals.c.id == bindparam("b_id")).values(
    status=bindparam("b_status"), approved=bindparam("b_approved"), version=bindparam("b_version"),
    updated_at=func.now())
