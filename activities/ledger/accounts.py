"""Accounts, account sets and membership (a DAG of direct edges; cycles refused)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
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
_MEMBERSHIP_LOCK = 0x1ED6E5  # serialises set-in-set additions so concurrent adds cannot form a cycle


@dataclass(frozen=True)
class AccountSpec:
    """An account to create (see :func:`create_accounts`)."""

    id: uuid.UUID
    code: str
    name: str
    normal_balance: str = "credit"
    external_id: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    control: str | None = None


# One statement for any number of accounts: insert them and their balance rows, returning the new
# ones (``inserted``) and those already there by id as the statement's snapshot sees them (an
# omnibus account every facility names, say), so a repeat costs no second round trip. Nothing is
# inserted for an id, a code or an external id already taken (also by a concurrent first use of the
# same id: it waits for that transaction, then does nothing); the ids neither inserted nor seen are
# then read in a statement of their own, which sees what committed meanwhile.
_CREATE_ACCOUNTS = text(
    "WITH spec AS (SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:codes AS text[]), CAST(:names AS text[]),"
    " CAST(:exts AS text[]), CAST(:sides AS text[]), CAST(:descrs AS text[]),"
    " CAST(CAST(:metas AS text[]) AS jsonb[]), CAST(:ctls AS text[])) AS s(id, code, name, ext, side, descr, meta, ctl)),"
    " new AS (INSERT INTO ledger_accounts (id, code, name, external_id, normal_balance_type, description,"
    " metadata, min_zero) SELECT id, code, name, ext, side, descr, meta, ctl FROM spec ORDER BY id"
    " ON CONFLICT DO NOTHING RETURNING *),"
    " balances AS (INSERT INTO ledger_current_balances (account_id, currency)"
    " SELECT id, c FROM new, unnest(CAST(:cs AS text[])) c)"
    " SELECT new.*, true AS inserted FROM new"
    " UNION ALL SELECT a.*, false FROM ledger_accounts a WHERE a.id = ANY(CAST(:ids AS uuid[]))")


async def create_accounts(conn: AsyncConnection, specs: list[AccountSpec]) -> dict[uuid.UUID, dict[str, Any]]:
    """Create accounts (idempotent: an id already there with the same code/name/side is returned),
    in one statement when they are all new; the stored rows by id."""
    sides = [NormalSide(s.normal_balance) for s in specs]
    ctls = [BalanceControl(s.control) if s.control else None for s in specs]
    try:
        rows = (await conn.execute(_CREATE_ACCOUNTS, {
            "ids": [s.id for s in specs], "codes": [s.code for s in specs], "names": [s.name for s in specs],
            "exts": [s.external_id for s in specs], "sides": [str(side) for side in sides],
            "descrs": [s.description for s in specs], "metas": [json.dumps(s.metadata or {}) for s in specs],
            "ctls": [c and str(c) for c in ctls], "cs": [str(c) for c in Currency]})).all()
    except IntegrityError as exc:
        raise DuplicateAccount(f"Accounts {[str(s.id) for s in specs]} are not valid: {exc.orig}") from exc
    found: dict[uuid.UUID, dict[str, Any]] = {}
    stored: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        account = dict(row._mapping)
        (found if account.pop("inserted") else stored)[row.id] = account
    unseen = [s.id for s in specs if s.id not in found and s.id not in stored]
    if unseen:  # taken by a transaction that committed while this statement waited on it, or not at all
        stored.update({row.id: dict(row._mapping) for row in await conn.execute(
            text("SELECT * FROM ledger_accounts WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": unseen})})
    for spec in specs:
        if spec.id in found:
            continue
        account = stored.get(spec.id)
        if account is None:
            raise DuplicateAccount(f"Account code {spec.code!r} or external id {spec.external_id!r} is taken.")
        if (account["code"], account["name"], account["normal_balance_type"]) != (
                spec.code, spec.name, NormalSide(spec.normal_balance)):
            raise DuplicateAccount(f"Account {spec.id} exists with different attributes.")
        found[spec.id] = account
    return found


async def create_account(
    conn: AsyncConnection, *, id: uuid.UUID, code: str, name: str, normal_balance: str = "credit",
    external_id: str | None = None, description: str | None = None, metadata: dict[str, Any] | None = None,
    control: str | None = None,
) -> dict[str, Any]:
    """Create an account (idempotent: the same id with the same code/name/side returns it)."""
    spec = AccountSpec(id=id, code=code, name=name, normal_balance=normal_balance, external_id=external_id,
                       description=description, metadata=metadata, control=control)
    return (await create_accounts(conn, [spec]))[id]


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


_CREATE_SET = text(
    "INSERT INTO ledger_account_sets (id, journal_id, name, external_id, normal_balance_type,"
    " description, metadata) VALUES (:id, :j, :name, :ext, :side, :descr, CAST(:meta AS jsonb))"
    " ON CONFLICT DO NOTHING RETURNING *")


async def create_account_set(
    conn: AsyncConnection, *, id: uuid.UUID, name: str, normal_balance: str = "credit",
    journal_id: uuid.UUID = DEFAULT_JOURNAL_ID, external_id: str | None = None,
    description: str | None = None, metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create an account set (idempotent like :func:`create_account`; one statement when new)."""
    side = NormalSide(normal_balance)
    try:
        row = (await conn.execute(_CREATE_SET, {
            "id": id, "j": journal_id, "name": name, "ext": external_id, "side": str(side), "descr": description,
            "meta": json.dumps(metadata or {})})).first()
    except IntegrityError as exc:
        raise DuplicateAccount(f"Account set {id} is not valid: {exc.orig}") from exc
    if row is not None:
        return dict(row._mapping)
    try:
        account_set = await get_account_set(conn, id)
    except AccountSetNotFound:
        raise DuplicateAccount(f"Account set external id {external_id!r} is taken.") from None
    if (account_set["name"], account_set["normal_balance_type"]) != (name, side):
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


_MEMBER_KINDS = text(
    "SELECT EXISTS (SELECT 1 FROM ledger_account_sets WHERE id = :s) AS set_found,"
    " EXISTS (SELECT 1 FROM ledger_account_sets WHERE id = :m) AS member_is_set,"
    " EXISTS (SELECT 1 FROM ledger_accounts WHERE id = :m) AS member_is_account")


async def add_member(conn: AsyncConnection, set_id: uuid.UUID, member_id: uuid.UUID) -> None:
    """Add an account or a set to ``set_id`` (idempotent). A set may not contain its ancestor.

    Only a set-in-set edge can close a cycle (an account has no members), so only those take the
    membership lock; accounts join their sets without serialising on it."""
    kinds = (await conn.execute(_MEMBER_KINDS, {"s": set_id, "m": member_id})).one()
    if not kinds.set_found:
        raise AccountSetNotFound(f"No ledger account set {set_id}.")
    if not (kinds.member_is_set or kinds.member_is_account):
        raise AccountNotFound(f"No ledger account {member_id}.")
    if kinds.member_is_set:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MEMBERSHIP_LOCK})
        cycle = (await conn.execute(text(
            "WITH RECURSIVE d(id) AS (SELECT CAST(:m AS uuid) UNION SELECT s.member_set_id FROM ledger_set_members s"
            " JOIN d ON s.set_id = d.id WHERE s.member_set_id IS NOT NULL) SELECT 1 FROM d WHERE id = :s"),
            {"m": member_id, "s": set_id})).first()
        if cycle:
            raise MembershipCycle(f"Set {member_id} contains {set_id}; adding it would form a cycle.")
    col = "member_set_id" if kinds.member_is_set else "member_account_id"
    await conn.execute(text(
        f"INSERT INTO ledger_set_members (set_id, {col}) VALUES (:s, :m) ON CONFLICT DO NOTHING"),
        {"s": set_id, "m": member_id})


async def add_account_members(conn: AsyncConnection, members: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Add accounts to sets, ``[(set_id, account_id)]``, in one statement (idempotent). Accounts cannot
    close a cycle: no membership lock. A set or account that does not exist fails the statement."""
    try:
        await conn.execute(text(
            "INSERT INTO ledger_set_members (set_id, member_account_id) SELECT s, a"
            " FROM unnest(CAST(:sets AS uuid[]), CAST(:accounts AS uuid[])) AS m(s, a) ORDER BY s, a"
            " ON CONFLICT DO NOTHING"), {"sets": [m[0] for m in members], "accounts": [m[1] for m in members]})
    except IntegrityError as exc:
        raise AccountNotFound(f"A set or account of {[(str(s), str(a)) for s, a in members]} does not exist.") from exc


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
