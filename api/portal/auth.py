"""Who calls the portal: a customer, by a token of the customer realm; access by ownership, not RBAC.

``portal_read("credit-facility")`` is the dependency of a portal route. It verifies the bearer token
against the customer realm (``api/authn.py``) and resolves the customer row, by the token's
``customer_id`` or else its ``email``. An operator's token (valid in the internal realm) is refused
with 403 and an audit entry (subject ``user:<id>``, authorized false); a customer token on an
operator route is refused the same way by ``api/authz.py``.

Every portal read writes one audit entry with subject ``customer:<id>``, object
``portal/<entity>/<id>`` and action ``portal:<entity>:read`` (``PortalCaller.audit``): authorized
true for the caller's own data, false when the id belongs to someone else (which then answers 404
``common.not_found``, exactly as for an id that does not exist).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import audit
from activities.customers.tables import customers
from api.authn import Identity
from api.authz import Authorizer, route_markers
from api.deps import ReadConn
from domain.errors import Forbidden, NotFound, Unauthenticated


@dataclass
class PortalCaller:
    """The customer calling, and the request's connection (the audit entry is written on it)."""

    customer: Any  # the customers row
    conn: AsyncConnection
    request: Request
    entity: str

    @property
    def customer_id(self) -> str:
        return str(self.customer.id)

    @property
    def subject(self) -> str:
        return f"customer:{self.customer.id}"

    async def audit(self, object_id: str, authorized: bool) -> None:
        """The read's audit entry, committed at once (it survives whatever the request does next)."""
        await audit_on(self.conn, self.request, self.subject, f"portal/{self.entity}/{object_id}",
                       f"portal:{self.entity}:read", authorized)

    async def not_yours(self, object_id: str, what: str) -> NotFound:
        """Audit a refused read of someone else's (or no one's) ``object_id`` and return the 404."""
        await self.audit(object_id, False)
        return NotFound(f"No {what} {object_id}.")


async def audit_on(conn: AsyncConnection, request: Request, subject: str, obj: str, action: str,
                   authorized: bool) -> None:
    if not request.app.state.authz.audit_enabled:
        return
    if conn.in_transaction():
        await conn.commit()  # end the read snapshot: the entry must not wait on (or roll back with) the reads
    await audit.record(conn, subject, obj, action, authorized, request_id=getattr(request.state, "request_id", None))
    await conn.commit()


async def resolve_customer(conn: AsyncConnection, identity: Identity):
    """The customers row the token names (by id, else by e-mail), or None."""
    if identity.id is not None:
        return (await conn.execute(select(customers).where(customers.c.id == str(identity.id)))).first()
    return (await conn.execute(select(customers).where(func.lower(customers.c.email) == identity.email))).first()


def portal_read(entity: str) -> Any:
    """The dependency of a portal route reading ``entity`` (see module docstring)."""

    async def dependency(request: Request, conn: ReadConn) -> PortalCaller:
        authz: Authorizer = request.app.state.authz
        authorization = request.headers.get("authorization")
        try:
            identity = await authz.customer_identity(authorization)
        except Unauthenticated:
            try:
                operator: uuid.UUID | None = await authz.verifier.user_id(authorization)
            except Unauthenticated:
                operator = None
            if operator is None:
                raise
            await audit_on(conn, request, f"user:{operator}", f"portal/{entity}/*", f"portal:{entity}:read", False)
            raise Forbidden("An operator token cannot call a portal route.") from None
        row = await resolve_customer(conn, identity)
        if row is None:
            raise Unauthenticated("Unknown customer.")
        return PortalCaller(row, conn, request, entity)

    dependency.__lana_ownership__ = f"portal:{entity}:read"  # type: ignore[attr-defined]
    return Depends(dependency)


def route_ownership(route) -> list[str]:
    """The ownership-checked reads a portal route declares."""
    return route_markers(route, "__lana_ownership__")
