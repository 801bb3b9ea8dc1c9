"""Idempotency-Key on real creating endpoints ([IK] in api-surface.md §0)."""

from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app
from ground.settings import Settings


def _has_idempotency(route: APIRoute) -> bool:
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if any(p.alias == "Idempotency-Key" for p in dep.header_params):
            return True
        stack.extend(dep.dependencies)
    return False


def test_every_creating_post_honours_idempotency_key():
    app = create_app(Settings(environment="test"))
    missing = [
        ctx.path for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.route, APIRoute) and "POST" in (ctx.methods or ()) and ctx.route.status_code == 201
        and not _has_idempotency(ctx.route)
    ]
    assert missing == []


async def test_customer_create_replays_and_refuses_reuse(stack):
    body = {"email": "ik@bank.test", "telegram_handle": "ik_bank", "customer_type": "Individual"}
    headers = {"Idempotency-Key": "create-ik-1"}
    first = await stack.http.post("/api/v1/customers", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await stack.http.post("/api/v1/customers", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = await stack.http.post("/api/v1/customers", json={**body, "email": "other@bank.test"}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "common.idempotency_key_reused"
    listed = (await stack.http.get("/api/v1/customers")).json()["items"]
    assert [c["email"] for c in listed] == ["ik@bank.test"]
