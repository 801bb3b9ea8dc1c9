"""Committees: event-sourced, with a read model of names and members."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from domain.governance.errors import (
    CannotRemoveLastMember,
    CommitteeMustHaveAtLeastOneMember,
    CommitteeNameTaken,
    CommitteeNotFound,
    InvalidThreshold,
    UserNotFound,
)

ENTITY = "committee"


async def _check_users(conn: AsyncConnection, user_ids: list[str]) -> None:
    """Committee members are operator users (CommitteeMemberId = UserId)."""
    known = {r[0] for r in await conn.execute(
        text("SELECT id::text FROM access_users WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": user_ids})}
    unknown = sorted(set(user_ids) - known)
    if unknown:
        raise UserNotFound(f"unknown user(s): {', '.join(unknown)}", field="member_user_ids")


async def create(conn: AsyncConnection, name: str, member_ids: list[str]) -> str:
    members = sorted(set(member_ids))
    if not members:
        raise CommitteeMustHaveAtLeastOneMember("a committee needs at least one member", field="member_user_ids")
    await _check_users(conn, members)
    taken = await conn.scalar(text("SELECT 1 FROM gov_committees WHERE name = :n"), {"n": name})
    if taken:
        raise CommitteeNameTaken(f"a committee named {name!r} already exists")
    cid = str(uuid.uuid4())
    await event_store.append(conn, ENTITY, cid, 0, [("CommitteeCreated", {"name": name})] +
                             [("MemberAdded", {"user_id": m}) for m in members])
    await conn.execute(text("INSERT INTO gov_committees (id, name) VALUES (:id, :n)"), {"id": cid, "n": name})
    await conn.execute(
        text("INSERT INTO gov_committee_members (committee_id, user_id) SELECT :c, unnest(CAST(:m AS uuid[]))"),
        {"c": cid, "m": members},
    )
    return cid


async def _version(conn: AsyncConnection, cid: str) -> int:
    # Lock the committee row: membership changes on one committee are serialised.
    row = await conn.scalar(text("SELECT 1 FROM gov_committees WHERE id = :id FOR UPDATE"), {"id": cid})
    if row is None:
        raise CommitteeNotFound(f"committee {cid} not found")
    return int(await conn.scalar(
        text("SELECT coalesce(max(sequence), 0) FROM events WHERE entity_type = :t AND entity_id = :id"),
        {"t": ENTITY, "id": cid},
    ))


async def members(conn: AsyncConnection, cid: str) -> list[str]:
    rows = await conn.execute(
        text("SELECT user_id::text FROM gov_committee_members WHERE committee_id = :c ORDER BY user_id"),
        {"c": cid},
    )
    return [r[0] for r in rows]


async def add_member(conn: AsyncConnection, cid: str, user_id: str) -> bool:
    """Idempotent: adding a present member changes nothing. Returns whether it changed."""
    version = await _version(conn, cid)
    if user_id in await members(conn, cid):
        return False
    await _check_users(conn, [user_id])
    await event_store.append(conn, ENTITY, cid, version, [("MemberAdded", {"user_id": user_id})])
    await conn.execute(text("INSERT INTO gov_committee_members (committee_id, user_id) VALUES (:c, :u)"),
                       {"c": cid, "u": user_id})
    return True


async def remove_member(conn: AsyncConnection, cid: str, user_id: str) -> bool:
    """Idempotent; refuses to remove the last member or to go below a policy's threshold."""
    version = await _version(conn, cid)
    current = await members(conn, cid)
    if user_id not in current:
        return False
    if len(current) == 1:
        raise CannotRemoveLastMember("the last member of a committee cannot be removed")
    needed = await conn.scalar(
        text("SELECT max((rules->>'threshold')::int) FROM gov_policies "
             "WHERE rules->>'type' = 'committee' AND rules->>'committee_id' = :c"),
        {"c": cid},
    )
    if needed is not None and len(current) - 1 < needed:
        raise InvalidThreshold(
            f"removing this member leaves {len(current) - 1} member(s), below a policy threshold of {needed}"
        )
    await event_store.append(conn, ENTITY, cid, version, [("MemberRemoved", {"user_id": user_id})])
    await conn.execute(text("DELETE FROM gov_committee_members WHERE committee_id = :c AND user_id = :u"),
                       {"c": cid, "u": user_id})
    return True


# One row per committee with its members aggregated: reads never go back for members per committee.
_SELECT = (
    "SELECT c.id::text AS id, c.name, c.created_at,"
    " coalesce(array_agg(m.user_id::text ORDER BY m.user_id) FILTER (WHERE m.user_id IS NOT NULL),"
    " '{}') AS member_user_ids"
    " FROM gov_committees c LEFT JOIN gov_committee_members m ON m.committee_id = c.id"
)


async def get(conn: AsyncConnection, cid: str) -> dict:
    row = (await conn.execute(text(_SELECT + " WHERE c.id = :id GROUP BY c.id"), {"id": cid})).mappings().first()
    if row is None:
        raise CommitteeNotFound(f"committee {cid} not found")
    return dict(row)


async def page(conn: AsyncConnection, first: int, after: tuple[datetime, uuid.UUID] | None) -> list[dict]:
    """Up to ``first + 1`` committees, newest first, after the key ``(created_at, id)``."""
    rows = await conn.execute(
        text(_SELECT + " WHERE CAST(:a AS timestamptz) IS NULL OR (c.created_at, c.id::text) < (CAST(:a AS timestamptz), :aid)"
             " GROUP BY c.id ORDER BY c.created_at DESC, c.id DESC LIMIT :n"),
        {"a": after[0] if after else None, "aid": str(after[1]) if after else "", "n": first + 1})
    return [dict(r) for r in rows.mappings()]
