"""A grant or role change through the API takes effect on the next request, on every API instance."""

import httpx

from api.app import create_app
from tests import harness


async def test_grant_change_is_effective_on_next_request_on_every_instance(stack, db_url):
    other_app = create_app(harness.test_settings(db_url, audit_seal_interval_s=0), engine=stack.engine)
    async with other_app.router.lifespan_context(other_app):
        sets = {s["name"]: s["id"] for s in (await stack.http.get(
            "/api/v1/permission-sets", params={"first": 100})).json()["items"]}
        role = (await stack.http.post("/api/v1/roles", json={"name": "viewer-lite",
                                                             "permission_set_ids": [sets["access_viewer"]]})).json()
        token = await stack.token_for("lite@grants.test", "viewer-lite")
        a = await stack.client_for("lite@grants.test", "viewer-lite")
        b = httpx.AsyncClient(transport=httpx.ASGITransport(app=other_app), base_url="http://lana.test",
                              headers={"Authorization": f"Bearer {token}"})
        async with b:
            for client in (a, b):
                assert (await client.get("/api/v1/audit-entries")).status_code == 403
                assert (await client.get("/api/v1/users")).status_code == 200

            r = await stack.http.post(f"/api/v1/roles/{role['id']}/add-permission-sets",
                                      json={"permission_set_ids": [sets["audit_viewer"]]})
            assert r.status_code == 200 and {"access_viewer", "audit_viewer"} == {
                s["name"] for s in r.json()["permission_sets"]}
            assert (await b.get("/api/v1/audit-entries")).status_code == 200  # the other instance
            assert (await a.get("/api/v1/audit-entries")).status_code == 200

            r = await stack.http.post(f"/api/v1/roles/{role['id']}/remove-permission-sets",
                                      json={"permission_set_ids": [sets["audit_viewer"]]})
            assert r.status_code == 200
            assert (await b.get("/api/v1/audit-entries")).status_code == 403
            assert (await a.get("/api/v1/audit-entries")).status_code == 403

            user_id = (await b.get("/api/v1/me")).json()["user"]["id"]
            roles = {x["name"]: x["id"] for x in (await stack.http.get("/api/v1/roles")).json()["items"]}
            r = await stack.http.put(f"/api/v1/users/{user_id}/role", json={"role_id": roles["accountant"]})
            assert r.status_code == 200 and r.json()["role_name"] == "accountant"
            assert (await b.get("/api/v1/audit-entries")).status_code == 200
            r = await stack.http.put(f"/api/v1/users/{user_id}/role", json={"role_id": role["id"]})
            assert (await a.get("/api/v1/audit-entries")).status_code == 403
            assert other_app.state.authz.policies.reloads >= 4

            # role creation is idempotent by name
            again = await stack.http.post("/api/v1/roles", json={"name": "viewer-lite", "permission_set_ids": []})
            assert again.status_code == 200 and again.json()["id"] == role["id"]
