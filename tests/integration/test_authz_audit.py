"""Every authorization decision leaves exactly one audit entry, with the decision the current
policy gives: also when the process's cached policy is stale (a grant changed meanwhile, here on
another app instance of the same database)."""

from __future__ import annotations

import uuid

from sqlalchemy import text


async def _entries(engine, request_id: str) -> list[tuple[str, bool]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT action, authorized FROM audit_entries WHERE request_id = :r"),
                                  {"r": request_id})
        return [(r.action, r.authorized) for r in rows]


async def test_one_audit_entry_per_decision_with_the_current_policy(stack):
    sets = {s["name"]: s["id"] for s in (await stack.http.get(
        "/api/v1/permission-sets", params={"first": 100})).json()["items"]}
    role = (await stack.http.post("/api/v1/roles", json={"name": "audit-lite",
                                                         "permission_set_ids": [sets["access_viewer"]]})).json()
    lite = await stack.client_for("lite@authz-audit.test", "audit-lite")

    r = await lite.get("/api/v1/users", headers={"x-request-id": "allowed-1"})
    assert r.status_code == 200
    assert await _entries(stack.engine, "allowed-1") == [("access:user:list", True)]
    r = await lite.get("/api/v1/audit-entries", headers={"x-request-id": "denied-1"})
    assert r.status_code == 403
    assert await _entries(stack.engine, "denied-1") == [("audit:audit:list", False)]

    # the grant changes behind this app's cached policy (written straight to the store)
    async with stack.engine.begin() as conn:
        from activities import access_store

        await access_store.add_permission_sets(conn, uuid.UUID(role["id"]), [uuid.UUID(sets["audit_viewer"])],
                                               actor="system:test")
    r = await lite.get("/api/v1/audit-entries", headers={"x-request-id": "allowed-2"})
    assert r.status_code == 200
    assert await _entries(stack.engine, "allowed-2") == [("audit:audit:list", True)]
