"""Entry history of an account (newest first, keyset-paginated) and transactions by id."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.ledger.accounts import get_account
from domain.ledger.errors import TransactionNotFound

_ENTRY_COLS = ("e.transaction_id, e.sequence, e.account_id, e.currency, e.units, e.direction, e.layer,"
               " e.entry_type, e.effective, e.recorded_at")


async def entries(conn: AsyncConnection, account_id: uuid.UUID, *, first: int = 25,
                  after: tuple[dt.datetime, uuid.UUID, int] | None = None) -> list[dict[str, Any]]:
    """Entries of one account, newest first; ``after`` = (recorded_at, transaction_id, sequence)."""
    await get_account(conn, account_id)
    cond, args = "", {"id": account_id, "n": first}
    if after is not None:
        cond = " AND (e.recorded_at, e.transaction_id, e.sequence) < (:t, :tx, :seq)"
        args.update(t=after[0], tx=after[1], seq=after[2])
    rows = await conn.execute(text(
        f"SELECT {_ENTRY_COLS}, t.template_code, t.description FROM ledger_entries e"
        " JOIN ledger_transactions t ON t.id = e.transaction_id"
        f" WHERE e.account_id = :id{cond}"
        " ORDER BY e.recorded_at DESC, e.transaction_id DESC, e.sequence DESC LIMIT :n"), args)
    return [dict(r._mapping) for r in rows]


async def get_transaction(conn: AsyncConnection, tx_id: uuid.UUID) -> dict[str, Any]:
    row = (await conn.execute(text(
        "SELECT id, journal_id, template_code, template_version, idempotency_key, external_id,"
        " correlation_id, effective, description, metadata, recorded_at FROM ledger_transactions WHERE id = :id"),
        {"id": tx_id})).first()
    if row is None:
        raise TransactionNotFound(f"No ledger transaction {tx_id}.")
    tx = dict(row._mapping)
    rows = await conn.execute(text(
        f"SELECT {_ENTRY_COLS} FROM ledger_entries e WHERE e.transaction_id = :id ORDER BY e.sequence"),
        {"id": tx_id})
    tx["entries"] = [dict(r._mapping) for r in rows]
    return tx
