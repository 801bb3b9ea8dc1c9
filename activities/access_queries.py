"""Paginated listings of users, roles, permission sets and audit entries (keyset pagination)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.access_store import _ROLE_SQL, _USER_SQL, role_dict, user_dict


async def _keyset(conn: AsyncConnection, base: str, *, key: str, key_type: str, id_col: str, first: int,
                  after: tuple | None, desc: bool, where: list[str] | None = None, group: str = "",
                  params: dict | None = None) -> list:
    clauses = list(where or [])
    params = dict(params or {})
    op, order = ("<", "DESC") if desc else (">", "ASC")
    if after:
        clauses.append(f"({key}, {id_col}) {op} (CAST(CAST(:_k AS text) AS {key_type}), "
                       f"CAST(CAST(:_i AS text) AS {'uuid' if key_type != 'bigint' else 'bigint'}))")
        params.update({"_k": str(after[0]), "_i": str(after[1])})
    sql = base + (" WHERE " + " AND ".join(clauses) if clauses else "") + (f" GROUP BY {group}" if group else "")
    sql += f" ORDER BY {key} {order}, {id_col} {order} LIMIT :_n"
    params["_n"] = first + 1
    return list(await conn.execute(text(sql), params))


async def list_users(conn, *, first: int, after: tuple | None, sort: str, desc: bool) -> list[dict[str, Any]]:
    key, typ = ("u.email", "text") if sort == "email" else ("u.created_at", "timestamptz")
    rows = await _keyset(conn, _USER_SQL, key=key, key_type=typ, id_col="u.id", first=first, after=after,
                         desc=desc)
    return [user_dict(r) for r in rows]


async def list_roles(conn, *, first: int, after: tuple | None, sort: str, desc: bool) -> list[dict[str, Any]]:
    key, typ = ("r.name", "text") if sort == "name" else ("r.created_at", "timestamptz")
    rows = await _keyset(conn, _ROLE_SQL, key=key, key_type=typ, id_col="r.id", first=first, after=after,
                         desc=desc, group="r.id")
    return [role_dict(r) for r in rows]


async def list_permission_sets(conn, *, first: int, after: tuple | None) -> list[dict[str, Any]]:
    base = ("SELECT ps.id, ps.name, ps.description, COALESCE(json_agg(json_build_object("
            "'object', c.v1, 'action', c.v2) ORDER BY c.v2) FILTER (WHERE c.id IS NOT NULL), '[]') AS permissions "
            "FROM access_permission_sets ps LEFT JOIN casbin_rule c ON c.ptype = 'p' "
            "AND c.v0 = 'permission_set:' || ps.id::text")
    rows = await _keyset(conn, base, key="ps.name", key_type="text", id_col="ps.id", first=first, after=after,
                         desc=False, group="ps.id")
    return [{"id": r.id, "name": r.name, "description": r.description, "permissions": r.permissions}
            for r in rows]


async def list_audit(conn, *, first: int, after: tuple | None, filters: dict[str, Any]) -> list:
    where, params = [], {}
    for col in ("subject", "object", "action", "authorized", "request_id", "workflow_id"):
        if filters.get(col) is not None:
            where.append(f"{col} = :{col}")
            params[col] = filters[col]
    if filters.get("since") is not None:
        where.append("recorded_at >= :since")
        params["since"] = filters["since"]
    if filters.get("until") is not None:
        where.append("recorded_at < :until")
        params["until"] = filters["until"]
    if after:
        where.append("id < :after_id")
        params["after_id"] = after[0]
    sql = ("SELECT id, subject, object, action, authorized, recorded_at, request_id, workflow_id "
           "FROM audit_entries" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT :n")
    params["n"] = first + 1
    return list(await conn.execute(text(sql), params))


async def audit_subjects(conn) -> list[str]:
    return [r.subject for r in await conn.execute(text("SELECT DISTINCT subject FROM audit_entries ORDER BY 1"))]
