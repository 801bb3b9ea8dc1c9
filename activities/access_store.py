"""Users, roles and permission sets in PostgreSQL, kept in step with the casbin policy rows.

Every change writes the entity's events, its read-model row and the ``casbin_rule`` rows in one
transaction; a trigger on ``casbin_rule`` bumps the policy version so every API instance reloads
its enforcer on its next request.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.audit import record_system_action
from domain.access.errors import (
    DuplicateEmail,
    PermissionSetNotFound,
    RoleNotFound,
    SuperuserRoleCannotBeAssigned,
    UserNotFound,
)
from domain.access.permissions import (
    PERMISSION_SET_DESCRIPTIONS,
    PERMISSION_SETS,
    PREDEFINED_ROLES,
    SUPERUSER,
    permission_set_id,
    predefined_role_id,
)

SEED_LOCK = 0x4C414E41_53454544  # "LANA" "SEED"


def _rule(ptype: str, *values: str) -> dict[str, str]:
    row = {"ptype": ptype, "v0": "", "v1": "", "v2": "", "v3": "", "v4": "", "v5": ""}
    row.update({f"v{i}": v for i, v in enumerate(values)})
    return row


async def _add_rules(conn: AsyncConnection, rows: list[dict[str, str]]) -> None:
    if rows:
        await conn.execute(text(
            "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) "
            "VALUES (:ptype, :v0, :v1, :v2, :v3, :v4, :v5) ON CONFLICT DO NOTHING"), rows)


async def seed(conn: AsyncConnection) -> None:
    """Reconcile permission sets, their grants and the predefined roles (§B3, idempotent)."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEED_LOCK})
    await conn.execute(text(
        "INSERT INTO access_permission_sets (id, name, description) VALUES (:id, :name, :d) "
        "ON CONFLICT (name) DO NOTHING"),
        [{"id": permission_set_id(n), "name": n, "d": d} for n, d in PERMISSION_SET_DESCRIPTIONS.items()])
    await _add_rules(conn, [_rule("p", f"permission_set:{permission_set_id(name)}", p.object, p.action)
                            for name, perms in PERMISSION_SETS.items() for p in perms])
    for role_name, set_names in PREDEFINED_ROLES.items():
        role = await create_role(conn, role_name, [permission_set_id(n) for n in set_names],
                                 role_id=predefined_role_id(role_name), actor="system:bootstrap")
        await add_permission_sets(conn, role["id"], [permission_set_id(n) for n in set_names],
                                  actor="system:bootstrap")


async def ensure_user(conn: AsyncConnection, email: str, role_name: str, *, actor: str) -> dict[str, Any]:
    """Create the user with that role unless one exists with that e-mail (bootstrap, tests)."""
    row = (await conn.execute(text("SELECT id FROM access_users WHERE email = :e"), {"e": email})).first()
    if row:
        return await get_user(conn, row.id)
    role = (await conn.execute(text("SELECT id FROM access_roles WHERE name = :n"), {"n": role_name})).first()
    if role is None:
        raise RoleNotFound(f"No role named {role_name!r}.")
    return await create_user(conn, email, role.id, actor=actor, allow_superuser=True)


async def _check_role(conn: AsyncConnection, role_id: uuid.UUID, allow_superuser: bool) -> None:
    row = (await conn.execute(text("SELECT name FROM access_roles WHERE id = :id"), {"id": role_id})).first()
    if row is None:
        raise RoleNotFound(f"Role {role_id} does not exist.")
    if row.name == SUPERUSER and not allow_superuser:
        raise SuperuserRoleCannotBeAssigned("The superuser role cannot be assigned through the API.")


async def create_user(conn: AsyncConnection, email: str, role_id: uuid.UUID, *, actor: str,
                      allow_superuser: bool = False) -> dict[str, Any]:
    await _check_role(conn, role_id, allow_superuser)
    user_id = uuid.uuid4()
    inserted = (await conn.execute(text(
        "INSERT INTO access_users (id, email, role_id, version) VALUES (:id, :e, :r, 1) "
        "ON CONFLICT (email) DO NOTHING RETURNING id"), {"id": user_id, "e": email, "r": role_id})).first()
    if inserted is None:
        raise DuplicateEmail(f"A user with e-mail {email!r} already exists.")
    await event_store.append(conn, "user", str(user_id), 0, [
        ("initialized", {"id": str(user_id), "email": email, "role_id": str(role_id), "actor": actor})])
    await _add_rules(conn, [_rule("g", f"user:{user_id}", f"role:{role_id}")])
    return await get_user(conn, user_id)


async def update_user_role(conn: AsyncConnection, user_id: uuid.UUID, role_id: uuid.UUID, *,
                           actor: str) -> dict[str, Any]:
    await _check_role(conn, role_id, allow_superuser=False)
    row = (await conn.execute(text(
        "SELECT role_id, version FROM access_users WHERE id = :id FOR UPDATE"), {"id": user_id})).first()
    if row is None:
        raise UserNotFound(f"User {user_id} does not exist.")
    if row.role_id != role_id:
        await conn.execute(text("UPDATE access_users SET role_id = :r, version = version + 1 WHERE id = :id"),
                           {"r": role_id, "id": user_id})
        await event_store.append(conn, "user", str(user_id), row.version,
                                 [("role_updated", {"role_id": str(role_id), "actor": actor})])
        await conn.execute(text("DELETE FROM casbin_rule WHERE ptype = 'g' AND v0 = :u"), {"u": f"user:{user_id}"})
        await _add_rules(conn, [_rule("g", f"user:{user_id}", f"role:{role_id}")])
    return await get_user(conn, user_id)


_USER_SQL = ("SELECT u.id, u.email, u.role_id, r.name AS role_name, u.created_at FROM access_users u "
             "JOIN access_roles r ON r.id = u.role_id")


def user_dict(row) -> dict[str, Any]:
    return {"id": row.id, "email": row.email, "role_id": row.role_id, "role_name": row.role_name,
            "created_at": row.created_at}


async def get_user(conn: AsyncConnection, user_id: uuid.UUID) -> dict[str, Any]:
    row = (await conn.execute(text(_USER_SQL + " WHERE u.id = :id"), {"id": user_id})).first()
    if row is None:
        raise UserNotFound(f"User {user_id} does not exist.")
    return user_dict(row)


async def _check_sets(conn: AsyncConnection, set_ids: list[uuid.UUID]) -> None:
    found = {r.id for r in await conn.execute(
        text("SELECT id FROM access_permission_sets WHERE id = ANY(:ids)"), {"ids": list(set_ids)})}
    missing = [str(s) for s in set_ids if s not in found]
    if missing:
        raise PermissionSetNotFound(f"Unknown permission set(s): {', '.join(missing)}.")


async def create_role(conn: AsyncConnection, name: str, set_ids: list[uuid.UUID], *, actor: str,
                      role_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Create a role; idempotent by name (the existing role is returned, ``created`` False)."""
    await _check_sets(conn, set_ids)
    role_id = role_id or uuid.uuid4()
    inserted = (await conn.execute(text(
        "INSERT INTO access_roles (id, name) VALUES (:id, :n) ON CONFLICT (name) DO NOTHING RETURNING id"),
        {"id": role_id, "n": name})).first()
    if inserted is None:
        existing = (await conn.execute(text("SELECT id FROM access_roles WHERE name = :n"), {"n": name})).one()
        return {**await get_role(conn, existing.id), "created": False}
    await conn.execute(text("UPDATE access_roles SET version = 1 WHERE id = :id"), {"id": role_id})
    await event_store.append(conn, "role", str(role_id), 0, [("initialized", {
        "id": str(role_id), "name": name, "permission_set_ids": [str(s) for s in set_ids], "actor": actor})])
    await _link_sets(conn, role_id, set_ids)
    if actor.startswith("system:"):
        await record_system_action(conn, f"access/role/{role_id}", "access:role:create", subject=actor)
    return {**await get_role(conn, role_id), "created": True}


async def _link_sets(conn: AsyncConnection, role_id: uuid.UUID, set_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    if not set_ids:
        return []
    added = [r.permission_set_id for r in await conn.execute(text(
        "INSERT INTO access_role_permission_sets (role_id, permission_set_id) "
        "SELECT :r, unnest(CAST(:ids AS uuid[])) ON CONFLICT DO NOTHING RETURNING permission_set_id"),
        {"r": role_id, "ids": list(set_ids)})]
    await _add_rules(conn, [_rule("g", f"role:{role_id}", f"permission_set:{s}") for s in set_ids])
    return added


async def add_permission_sets(conn: AsyncConnection, role_id: uuid.UUID, set_ids: list[uuid.UUID], *,
                              actor: str) -> dict[str, Any]:
    version = await _lock_role(conn, role_id)
    await _check_sets(conn, set_ids)
    added = await _link_sets(conn, role_id, set_ids)
    await _record_role_events(conn, role_id, version, "permission_set_added", added, actor)
    return await get_role(conn, role_id)


async def remove_permission_sets(conn: AsyncConnection, role_id: uuid.UUID, set_ids: list[uuid.UUID], *,
                                 actor: str) -> dict[str, Any]:
    version = await _lock_role(conn, role_id)
    await _check_sets(conn, set_ids)
    removed = [r.permission_set_id for r in await conn.execute(text(
        "DELETE FROM access_role_permission_sets WHERE role_id = :r AND permission_set_id = ANY(:ids) "
        "RETURNING permission_set_id"), {"r": role_id, "ids": list(set_ids)})]
    if removed:
        await conn.execute(text("DELETE FROM casbin_rule WHERE ptype = 'g' AND v0 = :r AND v1 = ANY(:s)"),
                           {"r": f"role:{role_id}", "s": [f"permission_set:{s}" for s in removed]})
    await _record_role_events(conn, role_id, version, "permission_set_removed", removed, actor)
    return await get_role(conn, role_id)


async def _lock_role(conn: AsyncConnection, role_id: uuid.UUID) -> int:
    row = (await conn.execute(text("SELECT version FROM access_roles WHERE id = :id FOR UPDATE"),
                              {"id": role_id})).first()
    if row is None:
        raise RoleNotFound(f"Role {role_id} does not exist.")
    return row.version


async def _record_role_events(conn, role_id, version, event_type, set_ids, actor) -> None:
    if not set_ids:
        return
    await conn.execute(text("UPDATE access_roles SET version = version + :n WHERE id = :id"),
                       {"n": len(set_ids), "id": role_id})
    await event_store.append(conn, "role", str(role_id), version,
                             [(event_type, {"permission_set_id": str(s), "actor": actor}) for s in set_ids])


_ROLE_SQL = ("SELECT r.id, r.name, r.created_at, COALESCE(json_agg(json_build_object('id', ps.id, 'name', ps.name) "
             "ORDER BY ps.name) FILTER (WHERE ps.id IS NOT NULL), '[]') AS permission_sets FROM access_roles r "
             "LEFT JOIN access_role_permission_sets rp ON rp.role_id = r.id "
             "LEFT JOIN access_permission_sets ps ON ps.id = rp.permission_set_id")


def role_dict(row) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_at": row.created_at, "permission_sets": row.permission_sets}


async def get_role(conn: AsyncConnection, role_id: uuid.UUID) -> dict[str, Any]:
    row = (await conn.execute(text(_ROLE_SQL + " WHERE r.id = :id GROUP BY r.id"), {"id": role_id})).first()
    if row is None:
        raise RoleNotFound(f"Role {role_id} does not exist.")
    return role_dict(row)
