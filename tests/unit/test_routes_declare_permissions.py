"""Every operator endpoint must declare a permission (health checks and webhooks excepted); every
portal endpoint an ownership-checked read instead (``api/portal/auth.py``)."""

from fastapi import APIRouter
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import API_PREFIX, create_app
from api.authz import require, route_permissions
from api.portal.auth import route_ownership
from ground.settings import Settings

PUBLIC_PREFIXES = ("/healthz", "/health", "/readyz", "/webhooks/", "/local-storage/", "/docs", "/openapi", "/redoc")


def routes_missing_a_permission(app) -> list[str]:
    # FastAPI >= 0.16x keeps included routers as one entry in app.routes: walk the effective routes.
    return [
        f"{sorted(ctx.methods or ())} {ctx.path}"
        for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.route, APIRoute)
        and not ctx.path.startswith(PUBLIC_PREFIXES)
        and not (route_ownership(ctx.route) if ctx.path.startswith(f"{API_PREFIX}/portal/")
                 else route_permissions(ctx.route))
    ]


def test_every_route_declares_a_permission():
    assert routes_missing_a_permission(create_app(Settings(environment="test"))) == []


def test_portal_routes_check_ownership_and_no_permission():
    from fastapi.routing import iter_route_contexts as walk

    portal = [ctx.route for ctx in walk(create_app(Settings(environment="test")).routes)
              if isinstance(ctx.route, APIRoute) and ctx.path.startswith(f"{API_PREFIX}/portal/")]
    assert len(portal) >= 3
    assert all(route_ownership(r) and not route_permissions(r) for r in portal)


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


def idempotent_routes_out_of_order(app) -> list[str]:
    """[IK] routes whose idempotent() parameter comes before require(): the key needs the principal."""
    bad = []
    for ctx in iter_route_contexts(app.routes):
        if not isinstance(ctx.route, APIRoute):
            continue
        calls = [d.call for d in ctx.route.dependant.dependencies]
        idem = [i for i, c in enumerate(calls) if getattr(c, "__lana_idempotent__", False)]
        perm = [i for i, c in enumerate(calls) if getattr(c, "__lana_permission__", None)]
        if idem and (not perm or min(idem) < min(perm)):
            bad.append(f"{sorted(ctx.methods or ())} {ctx.path}")
    return bad


def test_idempotent_routes_resolve_the_principal_first():
    from api.idempotency import idempotent

    assert idempotent_routes_out_of_order(create_app(Settings(environment="test"))) == []

    router = APIRouter()

    @router.post("/good")
    async def good(_p=require("test:thing:create"), _i=idempotent()) -> dict:
        return {}

    @router.post("/bad")
    async def bad(_i=idempotent(), _p=require("test:thing:create")) -> dict:
        return {}

    app = create_app(Settings(environment="test"))
    app.include_router(router, prefix=API_PREFIX)
    assert idempotent_routes_out_of_order(app) == ["['POST'] /api/v1/bad"]


def test_permission_format_is_enforced():
    import pytest

    with pytest.raises(ValueError):
        require("ledger-read")
