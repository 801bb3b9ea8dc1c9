"""The customer portal API (api-surface §15), mounted under ``/api/v1/portal``: docs/portal.md."""

from __future__ import annotations

from fastapi import APIRouter

PORTAL_PREFIX = "/portal"


def portal_routers() -> list[APIRouter]:
    from api.portal import routes

    return [routes.router]
