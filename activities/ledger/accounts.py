"""Accounts, account sets and membership (a DAG of direct edges; cycles refused)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.ledger.errors import (
    AccountNotFound,
    AccountSetNotFound,
    DuplicateAccount,
    MembershipCycle,
)
from domain.ledger.model import BalanceControl, Currency, NormalSide

DEFAULT_JOURNAL_ID = uuid.UUID("00000000-0000-0000-0000-00000000a001")
_MEMBERSHIP_LOCK = 0x1ED6E5  # serialises membership changes so concurrent adds cannot form a cycle


async def create_account(
    conn: AsyncConnection, *, id: uuid.UUID, code: str, name: str, normal_balance: str = "credit",
    external_id: str | None = None, description: str | None = None, metadata: dict[str, Any] | None = None,
    control: str | None = None,
) -> dict[str, Any]:
    """Create an account (idempotent: the same id with the same code/name/side returns it)."""
    side = NormalSide(normal_balance)
    ctl = BalanceControl(control) if control else None
    try:
        async with conn.begin_nested():
            row = (await conn.execute(text(
                "INSERT INTO ledger_accounts (id, code, name, external_id, normal_balance_type, description,"
                " metadata, min_zero) VALUES (:id, :code, :name, :ext, :side, :descr, CAST(:meta AS jsonb), :ctl)"
                " ON CONFLICT (id) DO NOTHING RETURNING id"),
                {"id": id, "code": code, "name": name, "ext": external_id, "side": str(side),
                 "descr": description, "meta": json.dumps(metadata or {}), "ctl": ctl and str(ctl)},
            )).first()
    except IntegrityError as exc:
        raise DuplicateAccount(f"Account code {code!r} or external id {external_id!r} is taken.") from exc
    account = await get_account(conn, id)
    if row is None and (account["code"], account["name"], account["normal_balance_type"]) != (code, name, side):
        raise DuplicateAccount(f"Account {id} exists with different attributes.")
    await conn.execute(text(
        "INSERT INTO ledger_current_balances (account_id, currency) SELECT :id, c FROM unnest(CAST(:cs AS text[])) c"
        " ON CONFLICT DO NOTHING"), {"id": id, "cs": [str(c) for c in Currency]})
    return account


async def set_account_status(conn: AsyncConnection, account_id: uuid.UUID, status: str) -> None:
    """Lock (``locked``) or unlock (``active``) an account; a locked account refuses postings."""
    res = await conn.execute(text("UPDATE ledger_accounts SET status = :s WHERE id = :id"),
                             {"s": status, "id": account_id})
    if res.rowcount == 0:
        raise AccountNotFound(f"No ledger account {account_id}.")


async def get_account(conn: AsyncConnection, account_id: uuid.UUID) -> dict[str, Any]:
    row = (await conn.execute(text("SELECT * FROM ledger_accounts WHERE id = :id"), {"id": account_id})).first()
    if row is None:
        raise AccountNotFound(f"No ledger account {account_id}.")
    return dict(row._mapping)


async def find_account_by_external_id(conn: AsyncConnection, external_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(text("SELECT * FROM ledger_accounts WHERE external_id = :e"),
                              {"e": external_id})).first()
    return dict(row._mapping) if row else None


async def create_account_set(
    conn: AsyncConnection, *, id: uuid.UUID, name: str, normal_balance: str = "credit",
    journal_id: uuid.UUID = DEFAULT_JOURNAL_ID, external_id: str | None = None,
    description: str | None = None, metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    side = NormalSide(normal_balance)
    try:
        async with conn.begin_nested():
            row = (await conn.execute(text(
                "INSERT INTO ledger_account_sets (id, journal_id, name, external_id, normal_balance_type,"
                " description, metadata) VALUES (:id, :j, :name, :ext, :side, :descr, CAST(:meta AS jsonb))"
                " ON CONFLICT (id) DO NOTHING RETURNING id"),
                {"id": id, "j": journal_id, "name": name, "ext": external_id, "side": str(side),
                 "descr": description, "meta": json.dumps(metadata or {})},
            )).first()
    except IntegrityError as exc:
        raise DuplicateAccount(f"Account set external id {external_id!r} is taken.") from exc
    account_set = await get_account_set(conn, id)
    if row is None and (account_set["name"], account_set["normal_balance_type"]) != (name, side):
        raise DuplicateAccount(f"Account set {id} exists with different attributes.")
    return account_set


async def get_account_set(conn: AsyncConnection, set_id: uuid.UUID) -> dict[str, Any]:
    row = (await conn.execute(text("SELECT * FROM ledger_account_sets WHERE id = :id"), {"id": set_id})).first()
    if row is None:
        raise AccountSetNotFound(f"No ledger account set {set_id}.")
    return dict(row._mapping)


async def find_set_by_external_id(conn: AsyncConnection, external_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(text("SELECT * FROM ledger_account_sets WHERE external_id = :e"),
                              {"e": external_id})).first()
    return dict(row._mapping) if row else None


async def _is_set(conn: AsyncConnection, member_id: uuid.UUID) -> bool:
    if (await conn.execute(text("SELECT 1 FROM ledger_account_sets WHERE id = :id"), {"id": member_id})).first():
        return True
    await get_account(conn, member_id)
    return False


async def add_member(conn: AsyncConnection, set_id: uuid.UUID, member_id: uuid.UUID) -> None:
    """Add an account or a set to ``set_id`` (idempotent). A set may not contain its ancestor."""
    await get_account_set(conn, set_id)
    member_is_set = await _is_set(conn, member_id)
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MEMBERSHIP_LOCK})
    if member_is_set:
        cycle = (await conn.execute(text(
            "WITH RECURSIVE d(id) AS (SELECT CAST(:m AS uuid) UNION SELECT s.member_set_id FROM ledger_set_members s"
            " JOIN d ON s.set_id = d.id WHERE s.member_set_id IS NOT NULL) SELECT 1 FROM d WHERE id = :s"),
            {"m": member_id, "s": set_id})).first()
        if cycle:
            raise MembershipCycle(f"Set {member_id} contains {set_id}; adding it would form a cycle.")
    col = "member_set_id" if member_is_set else "member_account_id"
    await conn.execute(text(
        f"INSERT INTO ledger_set_members (set_id, {col}) VALUES (:s, :m) ON CONFLICT DO NOTHING"),
        {"s": set_id, "m": member_id})


async def remove_member(conn: AsyncConnection, set_id: uuid.UUID, member_id: uuid.UUID) -> None:
    await conn.execute(text("DELETE FROM ledger_set_members WHERE set_id = :s AND member_id = :m"),
                       {"s": set_id, "m": member_id})


async def list_members(conn: AsyncConnection, set_id: uuid.UUID) -> list[dict[str, Any]]:
    """Direct members: ``{"id", "type": "account"|"account_set", "name"}``."""
    rows = await conn.execute(text(
        "SELECT m.member_id AS id, CASE WHEN m.member_set_id IS NULL THEN 'account' ELSE 'account_set' END AS type,"
        " coalesce(a.name, s.name) AS name FROM ledger_set_members m"
        " LEFT JOIN ledger_accounts a ON a.id = m.member_account_id"
        " LEFT JOIN ledger_account_sets s ON s.id = m.member_set_id"
        " WHERE m.set_id = :s ORDER BY m.created_at, m.member_id"), {"s": set_id})
    return [dict(r._mapping) for r in rows]
