"""Manual transactions (accounting.md §8): an operator's balanced multi-line entry between chart
accounts, posted through ``ledger.post`` (template MANUAL_TRANSACTION) in the caller's transaction.

An entry names its account by chart code (a leaf node: its dedicated manual account, created on
first use with the node's normal balance) or by ledger account id. The idempotency key is the
reference, so a retried request replays and a different request under a used reference is 409.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.accounting import chart
from domain.accounting.codes import fmt, parse_code
from domain.accounting.errors import (
    CodeNotFoundInChart,
    InvalidAccountCode,
    InvalidManualTransaction,
    ManualTransactionNotFound,
    NonLeafAccount,
    UnknownAccount,
)
from domain.accounting.money import to_minor

_NS = uuid.UUID("5e0c2b8a-7d4f-4b36-9a51-0f6e2d3c4b19")


def manual_transaction_id(reference: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"manual-transaction:{reference}")


@dataclass(frozen=True)
class EntryIn:
    account_ref: str
    amount: str
    currency: str
    direction: str
    description: str = ""


async def _manual_account(conn: AsyncConnection, code_raw: str, nodes: dict, parents: set) -> uuid.UUID:
    try:
        code = parse_code(code_raw)
    except InvalidAccountCode as exc:
        raise UnknownAccount(f"{code_raw!r} is neither a ledger account id nor a chart code.") from exc
    node = nodes.get(code)
    if node is None:
        raise CodeNotFoundInChart(f"No chart node {fmt(code)}.")
    if code in parents:
        raise NonLeafAccount(f"Chart node {fmt(code)} has child nodes; post to a leaf node.")
    if node.manual_account_id is not None:
        return node.manual_account_id
    aid = uuid.uuid5(_NS, f"manual-account:{fmt(code)}")
    ref = f"{chart.CHART_ID}.{fmt(code)}.manual"
    await ledger.create_account(conn, id=aid, code=ref, name=f"{fmt(code)} Manual", external_id=ref,
                                normal_balance=node.normal_balance)
    await ledger.add_member(conn, node.account_set_id, aid)
    await conn.execute(text("UPDATE accounting_chart_nodes SET manual_account_id = :a WHERE chart_id = :c AND code = :k"),
                       {"a": aid, "c": chart.CHART_ID, "k": fmt(code)})
    return aid


async def _resolve(conn: AsyncConnection, ref: str, nodes: dict, parents: set) -> uuid.UUID:
    try:
        aid = uuid.UUID(ref)
    except ValueError:
        return await _manual_account(conn, ref, nodes, parents)
    if (await conn.execute(text("SELECT 1 FROM ledger_accounts WHERE id = :id"), {"id": aid})).first() is None:
        raise UnknownAccount(f"No ledger account {aid}.")
    non_leaf = [n for c, n in nodes.items() if n.manual_account_id == aid and c in parents]
    if non_leaf:
        raise NonLeafAccount(f"Account {aid} is the manual account of non-leaf node {non_leaf[0].code_str}.")
    return aid


async def execute(conn: AsyncConnection, *, reference: str, description: str, effective: dt.date,
                  entries: list[EntryIn], actor: str) -> dict[str, Any]:
    if len(entries) < 2:
        raise InvalidManualTransaction("A manual transaction needs at least two entries.")
    all_nodes = await chart.nodes(conn)
    parents = {n.parent for n in all_nodes.values()}
    legs = []
    for i, e in enumerate(entries):
        if e.currency not in ("USD", "BTC") or e.direction not in ("debit", "credit"):
            raise InvalidManualTransaction(f"Entry {i + 1}: currency must be USD or BTC and direction debit or "
                                           "credit.", entry=i + 1)
        try:
            units = to_minor(e.amount, e.currency)
        except ValueError as exc:
            raise InvalidManualTransaction(f"Entry {i + 1}: amount {exc}.", entry=i + 1) from exc
        if units <= 0:
            raise InvalidManualTransaction(f"Entry {i + 1}: amount must be positive.", entry=i + 1)
        account_id = await _resolve(conn, e.account_ref, all_nodes, parents)
        legs.append({"account_id": str(account_id), "units": units, "currency": e.currency,
                     "direction": e.direction, "description": e.description})
    mt_id = manual_transaction_id(reference)
    tx = await ledger.post(conn, "MANUAL_TRANSACTION",
                           {"entries": legs, "description": description, "reference": reference},
                           idempotency_key=f"manual-transaction:{reference}", effective=effective)
    await conn.execute(text(
        "INSERT INTO accounting_manual_transactions (id, reference, description, effective, ledger_transaction_id,"
        " created_by) VALUES (:id, :ref, :d, :eff, :tx, :by) ON CONFLICT DO NOTHING"),
        {"id": mt_id, "ref": reference, "d": description, "eff": tx.effective, "tx": tx.id, "by": actor})
    return await get(conn, mt_id)


async def get(conn: AsyncConnection, mt_id: uuid.UUID) -> dict[str, Any]:
    row = (await conn.execute(text("SELECT * FROM accounting_manual_transactions WHERE id = :id"),
                              {"id": mt_id})).first()
    if row is None:
        raise ManualTransactionNotFound(f"No manual transaction {mt_id}.")
    out = dict(row._mapping)
    out["ledger_transaction"] = await ledger.get_transaction(conn, out["ledger_transaction_id"])
    return out


async def list_page(conn: AsyncConnection, first: int, after: tuple[dt.datetime, uuid.UUID] | None):
    cond, args = "", {"n": first}
    if after:
        cond, args = " WHERE (created_at, id) < (:t, :id)", {**args, "t": after[0], "id": after[1]}
    rows = await conn.execute(text(f"SELECT * FROM accounting_manual_transactions{cond}"
                                   " ORDER BY created_at DESC, id DESC LIMIT :n"), args)
    return [dict(r._mapping) for r in rows]
