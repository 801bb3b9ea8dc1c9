"""Matrix: every predefined role and every permission set against every catalogued permission.

A probe route per catalogue action (declared with ``require`` like any endpoint) is called by one
user per predefined role and one user per permission set (a role holding only that set): allowed
calls succeed, forbidden ones get 403 problem+json, and each call is audited with its outcome.
"""

import asyncio

from fastapi import APIRouter
from sqlalchemy import text

from api.authz import Principal, require
from domain.access.permissions import ALL_ACTIONS, PERMISSION_SETS, PREDEFINED_ROLES

OBJ = "matrix-obj"


def _probe_router() -> APIRouter:
    router = APIRouter()

    def make(action: str):
        async def probe(obj_id: str, principal: Principal = require(action, id_param="obj_id")):
            return {"subject": principal.subject}
        return probe

    for action in sorted(ALL_ACTIONS):
        router.add_api_route(f"/_probe/{action}/{{obj_id}}", make(action), methods=["GET"])
    return router


def _allowed(set_names) -> set[str]:
    return {p.action for s in set_names for p in PERMISSION_SETS[s]}


async def test_every_role_and_permission_set_against_every_permission(stack):
    stack.app.include_router(_probe_router(), prefix="/api/v1")
    sets = {s["name"]: s["id"] for s in (await stack.http.get("/api/v1/permission-sets",
                                                              params={"first": 100})).json()["items"]}
    assert set(sets) == set(PERMISSION_SETS)
    principals: dict[str, set[str]] = {}  # role name -> allowed actions
    for role, set_names in PREDEFINED_ROLES.items():
        principals[role] = _allowed(set_names)
    for set_name in PERMISSION_SETS:
        r = await stack.http.post("/api/v1/roles", json={"name": f"only-{set_name}",
                                                         "permission_set_ids": [sets[set_name]]})
        assert r.status_code == 201, r.text
        principals[f"only-{set_name}"] = _allowed([set_name])

    users: dict[str, str] = {}
    for role in principals:
        email = f"{role}@matrix.test"
        if role != "superuser":
            role_id = next(x["id"] for x in (await stack.http.get(
                "/api/v1/roles", params={"first": 100})).json()["items"] if x["name"] == role)
            r = await stack.http.post("/api/v1/users", json={"email": email, "role_id": role_id})
            assert r.status_code == 201, r.text
        client = await stack.client_for(email, role)
        async with stack.engine.connect() as conn:
            users[role] = str((await conn.execute(text("SELECT id FROM access_users WHERE email = :e"), {"e": email})).scalar_one())

        sem = asyncio.Semaphore(8)

        async def call(action, client=client, sem=sem):
            async with sem:
                return action, await client.get(f"/api/v1/_probe/{action}/{OBJ}")

        results = await asyncio.gather(*(call(a) for a in sorted(ALL_ACTIONS)))
        for action, resp in results:
            if action in principals[role]:
                assert resp.status_code == 200, (role, action, resp.text)
            else:
                assert resp.status_code == 403, (role, action, resp.status_code)
                assert resp.json()["code"] == "auth.forbidden"

    async with stack.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT subject, action, authorized FROM audit_entries WHERE object LIKE :o"),
            {"o": f"%/{OBJ}"})).all()
    audited = {(r.subject, r.action): r.authorized for r in rows}
    assert len(rows) == len(principals) * len(ALL_ACTIONS)  # one entry per check, no more
    for role, allowed in principals.items():
        for action in ALL_ACTIONS:
            assert audited[(f"user:{users[role]}", action)] is (action in allowed), (role, action)
    assert all(r.action.count(":") == 2 for r in rows)


async def test_real_access_endpoints_per_predefined_role(stack):
    roles = {x["name"]: x["id"] for x in (await stack.http.get("/api/v1/roles")).json()["items"]}
    missing_user = "00000000-0000-0000-0000-000000000001"
    for role in ("admin", "bank-manager", "accountant"):
        client = await stack.client_for(f"{role}@roles.test", role)
        writer = role == "admin"
        assert (await client.get("/api/v1/users")).status_code == 200
        assert (await client.get("/api/v1/permission-sets")).status_code == 200
        assert (await client.get("/api/v1/audit-entries")).status_code == 200
        r = await client.post("/api/v1/users", json={"email": f"new-{role}@roles.test",
                                                     "role_id": roles["accountant"]})
        assert r.status_code == (201 if writer else 403), r.text
        r = await client.post("/api/v1/roles", json={"name": f"made-by-{role}", "permission_set_ids": []})
        assert r.status_code == (201 if writer else 403), r.text
        # checked before loading: a forbidden caller gets 403 even for a user that does not exist
        r = await client.put(f"/api/v1/users/{missing_user}/role", json={"role_id": roles["accountant"]})
        assert r.status_code == (404 if writer else 403), r.text
    r = await stack.http.post("/api/v1/users", json={"email": "x@roles.test", "role_id": roles["superuser"]})
    assert r.status_code == 422 and r.json()["code"] == "access.superuser_role_cannot_be_assigned"
    r = await stack.http.post("/api/v1/users", json={"email": "admin@roles.test", "role_id": roles["admin"]})
    assert r.status_code == 409 and r.json()["code"] == "access.duplicate_email"
    async with stack.engine.connect() as conn:
        denied = (await conn.execute(text(
            "SELECT count(*) FROM audit_entries WHERE NOT authorized AND action = 'access:user:update-role' "
            "AND object = :o"), {"o": f"access/user/{missing_user}"})).scalar()
    assert denied == 2  # bank-manager and accountant
