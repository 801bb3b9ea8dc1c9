"""Every operator endpoint must declare a permission (health checks and webhooks excepted)."""

from fastapi import APIRouter
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import API_PREFIX, create_app
from api.authz import require, route_permissions
from workers.settings import Settings

PUBLIC_PREFIXES = ("/healthz", "/readyz", "/webhooks/", "/docs", "/openapi", "/redoc")


def routes_missing_a_permission(app) -> list[str]:
    # FastAPI >= 0.16x keeps included routers as one entry in app.routes: walk the effective routes.
    return [
        f"{sorted(ctx.methods or ())} {ctx.path}"
        for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.route, APIRoute)
        and not ctx.path.startswith(PUBLIC_PREFIXES)
        and not route_permissions(ctx.route)
    ]


def test_every_route_declares_a_permission():
    assert routes_missing_a_permission(create_app(Settings(environment="test"))) == []


def test_a_route_without_permission_is_caught():
    router = APIRouter()

    @router.get("/open")
    async def open_route() -> dict:
        return {}

    @router.get("/guarded")
    async def guarded(_p=require("test:thing:read")) -> dict:
        return {}

    app = create_app(Settings(environment="test"))
    app.include_router(router, prefix=API_PREFIX)
    assert routes_missing_a_permission(app) == ["['GET'] /api/v1/open"]


def test_permission_format_is_enforced():
    import pytest

    with pytest.raises(ValueError):
        require("ledger-read")
