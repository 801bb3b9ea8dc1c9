"""Every operator endpoint must declare a permission (health checks and webhooks excepted)."""

from fastapi.routing import APIRoute

from api.app import create_app
from api.authz import route_permissions
from workers.settings import Settings

PUBLIC_PREFIXES = ("/healthz", "/readyz", "/webhooks/", "/local-storage/", "/docs", "/openapi", "/redoc")


def test_every_route_declares_a_permission():
    app = create_app(Settings(environment="test"))
    missing = [
        f"{sorted(r.methods)} {r.path}"
        for r in app.routes
        if isinstance(r, APIRoute)
        and not r.path.startswith(PUBLIC_PREFIXES)
        and not route_permissions(r)
    ]
    assert missing == []


def test_permission_format_is_enforced():
    import pytest

    from api.authz import require

    with pytest.raises(ValueError):
        require("ledger-read")
