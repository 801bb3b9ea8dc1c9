"""Read-model tables (migration 0009_deposits) and load/save of the three aggregates.

Every save appends the entity's events (optimistic concurrency) and refreshes its read-model row in
the caller's transaction. Status-sensitive operations first lock the account's row
(``lock_account``): postings take it FOR SHARE, status changes (freeze, unfreeze, close) FOR UPDATE,
so no deposit or withdrawal can slip past a concurrent freeze.

Lock order: customer → deposit account → ledger. ``lock_account`` locks the holder's customer row
first (FOR NO KEY UPDATE: a posting ends by moving the customer's last activity), so a posting and a
customer command (freeze, close, a KYC hook: customer row, then its accounts) never wait on each
other in a cycle.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
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


async def lock_account(conn: AsyncConnection, account_id: str, *, exclusive: bool = False) -> DepositAccount:
    mode = "UPDATE" if exclusive else "SHARE"
    await conn.execute(text("SELECT id FROM customers WHERE id = (SELECT holder_id FROM deposit_accounts"
                            " WHERE id = CAST(:id AS uuid)) FOR NO KEY UPDATE"), {"id": account_id})
    row = (await conn.execute(text(f"SELECT id FROM deposit_accounts WHERE id = CAST(:id AS uuid) FOR {mode}"),
                              {"id": account_id})).first()
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


async def claim_deposit(conn: AsyncConnection, d: Deposit) -> bool:
    """Insert the read-model row; False when the id or the reference is already taken."""
    row = (await conn.execute(insert(deposits).values(
        id=d.id, public_id=_PUBLIC_ID, deposit_account_id=d.account_id, amount=d.amount, reference=d.reference,
        status=d.status.value, version=len(d.pending)).on_conflict_do_nothing().returning(deposits.c.id))).first()
    return row is not None


async def claim_withdrawal(conn: AsyncConnection, w: Withdrawal) -> bool:
    row = (await conn.execute(insert(withdrawals).values(
        id=w.id, public_id=_PUBLIC_ID, deposit_account_id=w.account_id, amount=w.amount, reference=w.reference,
        status=w.status.value, version=len(w.pending)).on_conflict_do_nothing().returning(withdrawals.c.id))).first()
    return row is not None


async def save_deposit(conn: AsyncConnection, d: Deposit) -> None:
    if not d.pending:
        return
    await event_store.save_entity(conn, d)
    await conn.execute(update(deposits).where(deposits.c.id == d.id).values(
        status=d.status.value, version=d.version, updated_at=func.now()))


async def save_withdrawal(conn: AsyncConnection, w: Withdrawal) -> None:
    if not w.pending:
        return
    await event_store.save_entity(conn, w)
    await conn.execute(update(withdrawals).where(withdrawals.c.id == w.id).values(
        status=w.status.value, approved=w.approved, version=w.version, updated_at=func.now()))


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


async def find_by_id_or_reference(conn: AsyncConnection, table: Table, entity_id: str, reference: str):
    return (await conn.execute(select(table).where((table.c.id == entity_id) | (table.c.reference == reference))
                               .order_by((table.c.id == entity_id).desc()).limit(1))).first()


async def row_of(conn: AsyncConnection, table: Table, entity_id: str, missing: type[Exception]):
    row = (await conn.execute(select(table).where(table.c.id == entity_id))).first()
    if row is None:
        raise missing(f"{table.name[:-1].replace('_', ' ').capitalize()} {entity_id} does not exist.")
    return row
