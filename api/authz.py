"""Authorization: every operator endpoint declares the permission it needs.

Usage in a router::

    @router.get("/accounts/{account_id}")
    async def get_account(account_id: UUID, principal: Principal = require("ledger:account:read")):
        ...

``require`` returns a FastAPI dependency that authenticates the caller, checks the permission
(action ``module:entity:action`` on object ``module/entity/*``, or ``module/entity/{id}`` when
``id_param`` names a path parameter) and audits the decision. Routes without a ``require`` are
caught by a test. Until the access module lands this is a pass-through that only records the
declared permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``user:<uuid>`` for operators, ``system`` for internal actions."""

    subject: str
    user_id: str | None = None
    email: str | None = None


def permission_object(permission: str, object_id: str | None = None) -> str:
    module, entity, _action = permission.split(":", 2)
    return f"{module}/{entity}/{object_id or '*'}"


def require(permission: str, *, id_param: str | None = None) -> Any:
    """Declare and enforce ``permission`` on an endpoint (see module docstring)."""
    if permission.count(":") != 2:
        raise ValueError(f"permission must be module:entity:action, got {permission!r}")

    async def dependency(request: Request) -> Principal:
        principal = Principal(subject="system")
        request.state.principal = principal
        return principal

    dependency.__lana_permission__ = permission  # type: ignore[attr-defined]
    dependency.__lana_id_param__ = id_param  # type: ignore[attr-defined]
    return Depends(dependency)


def route_permissions(route) -> list[str]:
    """The permissions a route declares (walks its dependency tree)."""
    found: list[str] = []
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        perm = getattr(dep.call, "__lana_permission__", None)
        if perm:
            found.append(perm)
        stack.extend(dep.dependencies)
    return found
