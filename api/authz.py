"""Authorization: every operator endpoint declares the permission it needs.

Usage in a router::

    @router.get("/accounts/{account_id}")
    async def get_account(account_id: UUID, principal: Principal = require("ledger:account:read")):
        ...

``require`` returns a FastAPI dependency that authenticates the caller (bearer JWT, ``api/authn``),
checks the permission with casbin (action ``module:entity:action`` on object ``module/entity/*``,
or ``module/entity/{id}`` when ``id_param`` names a path parameter) and appends the decision to
the audit log, allowed or denied. The check runs before the endpoint loads anything, so a
forbidden caller gets 403 even for an id that does not exist. Routes without a ``require`` are
caught by tests/unit/test_routes_declare_permissions.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import audit
from activities.policy import PolicyCache
from api.authn import Identity, Realm, TokenVerifier
from domain.errors import Forbidden, Unauthenticated
from ground.settings import Settings


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``user:<uuid>`` for operators, ``system:<actor>`` for internal actions."""

    subject: str
    user_id: str | None = None
    email: str | None = None


def ids_irrelevant(enforcer: Any) -> bool:
    """Whether no grant of this policy names an object id: every ``p`` object is a ``keyMatch``
    pattern whose ``*`` comes at or before the id segment of ``module/entity/<id>``. Then a decision
    is the same for every id of one module/entity, and one cached decision answers them all."""
    if enforcer is None:
        return False
    for rule in enforcer.get_policy():
        pattern = rule[1]  # p = sub, obj, act
        star = pattern.find("*")
        if star == -1:
            if pattern.count("/") >= 2:
                return False  # an exact object id
            continue
        prefix = pattern[:star]
        if prefix.count("/") > 2 or (prefix.count("/") == 2 and not prefix.endswith("/")):
            return False
    return True


def permission_object(permission: str, object_id: str | None = None) -> str:
    module, entity, _action = permission.split(":", 2)
    return f"{module}/{entity}/{object_id or '*'}"


_AUTH_SQL = text("SELECT v.version, u.email FROM access_policy_version v "
                 "LEFT JOIN access_users u ON u.id = :id WHERE v.id = 1")
_CUSTOMER_BY_EMAIL_SQL = text("SELECT id FROM customers WHERE lower(email) = :e")
_VERSION_SQL = text("SELECT version FROM access_policy_version WHERE id = 1")
# The usual request in one statement: the caller's email and the policy version, and the audit entry
# of the decision taken with the cached policy, written only when that policy is still the current
# one and the caller exists (``audited``); otherwise the check is redone the long way.
_AUTH_AND_AUDIT_SQL = text(
    "WITH v AS (SELECT version FROM access_policy_version WHERE id = 1),"
    " u AS (SELECT email FROM access_users WHERE id = :id),"
    " a AS (INSERT INTO audit_entries (subject, object, action, authorized, request_id)"
    " SELECT CAST(:subject AS text), CAST(:object AS text), CAST(:action AS text), CAST(:authorized AS boolean),"
    " CAST(:request_id AS text) FROM v, u WHERE v.version = :cached RETURNING id)"
    " SELECT (SELECT version FROM v) AS version, (SELECT email FROM u) AS email, EXISTS (SELECT 1 FROM a) AS audited")


def credentials(request: Request) -> str | None:
    """The caller's ``Authorization`` value. A server-rendered page (``api/portfolio_page.py``) puts
    its session cookie's token on ``request.state.page_authorization`` before its ``require`` runs;
    no API route does, so the API itself never accepts a cookie (no cross-site request forgery)."""
    return request.headers.get("authorization") or getattr(request.state, "page_authorization", None)


class Authorizer:
    """One per API process: token verifier, version-checked casbin enforcer, audit writer."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.verifier = TokenVerifier(settings)
        self.customer_verifier = TokenVerifier(settings, Realm.customer(settings))
        self.policies = PolicyCache()
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.audit_enabled = settings.audit_enabled
        self._decisions: dict[tuple[str, str, str], bool] = {}
        self._decisions_version: int | None = None
        self._id_free = False

    def _enforce(self, version: int, subject: str, obj: str, action: str) -> bool:
        if self._decisions_version != version or len(self._decisions) > 50_000:
            self._decisions = {}
            self._decisions_version = version
            self._id_free = ids_irrelevant(self.policies.enforcer)
        obj_key = obj
        if self._id_free:  # one decision per (subject, module/entity, action), whatever the id
            parts = obj.split("/", 2)
            if len(parts) == 3:
                obj_key = f"{parts[0]}/{parts[1]}/*"
        key = (subject, obj_key, action)
        found = self._decisions.get(key)
        if found is None:
            assert self.policies.enforcer is not None
            found = self._decisions[key] = bool(self.policies.enforcer.enforce(subject, obj, action))
        return found

    async def check(self, request: Request, action: str, obj: str) -> Principal:
        """Authenticate, decide, audit; on the request's read connection when it has one and has not
        begun reading (in autocommit, then back: the audit entry commits on its own), else on a
        connection of its own."""
        read: AsyncConnection | None = getattr(request.state, "read_conn", None)
        if read is not None and not read.in_transaction() and not read.closed:
            autocommit = getattr(request.state, "read_autocommit", False)
            if not autocommit:
                await read.execution_options(isolation_level="AUTOCOMMIT")
            try:
                return await self._check(read, request, action, obj)
            finally:
                await read.commit()  # ends SQLAlchemy's autobegun transaction: nothing is sent in autocommit
                if not autocommit:
                    await read.execution_options(isolation_level=read.default_isolation_level)
        async with self.engine.connect() as conn:
            return await self._check(conn, request, action, obj)

    async def _check(self, conn: AsyncConnection, request: Request, action: str, obj: str) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None and self.audit_enabled and self.policies.version is not None:
            user_id = await self._operator_id(conn, request, obj, action)
            subject, cached = f"user:{user_id}", self.policies.version
            allowed = self._enforce(cached, subject, obj, action)
            row = (await conn.execute(_AUTH_AND_AUDIT_SQL, {
                "id": user_id, "subject": subject, "object": obj, "action": action, "authorized": allowed,
                "request_id": getattr(request.state, "request_id", None), "cached": cached})).one()
            if row.email is None:
                raise Unauthenticated("Unknown user.")
            principal = Principal(subject=subject, user_id=str(user_id), email=row.email)
            request.state.principal = principal
            if row.audited:
                if not allowed:
                    raise Forbidden(f"{action} on {obj} is not permitted.")
                return principal
            # the policy changed since it was cached: the long way below, with the new one
        if principal is None:
            user_id = await self._operator_id(conn, request, obj, action)
            row = (await conn.execute(_AUTH_SQL, {"id": user_id})).one()
            if row.email is None:
                raise Unauthenticated("Unknown user.")
            principal = Principal(subject=f"user:{user_id}", user_id=str(user_id), email=row.email)
            request.state.principal = principal
            version = row.version
        else:
            version = (await conn.execute(_VERSION_SQL)).scalar_one()
        await self.policies.ensure(conn, version)
        allowed = self._enforce(self.policies.version or version, principal.subject, obj, action)
        if self.audit_enabled:
            await audit.record(conn, principal.subject, obj, action, allowed,
                               request_id=getattr(request.state, "request_id", None))
        if not allowed:
            raise Forbidden(f"{action} on {obj} is not permitted.")
        return principal

    async def _operator_id(self, conn: AsyncConnection, request: Request, obj: str, action: str) -> uuid.UUID:
        """The operator the bearer token names. A valid token of the customer realm is refused with an
        audited 403 (subject ``customer:<id>``): a customer never reaches an operator route."""
        authorization = credentials(request)
        try:
            return await self.verifier.user_id(authorization)
        except Unauthenticated:
            try:
                customer = await self.customer_verifier.identity(authorization)
            except Unauthenticated:
                customer = None
            if customer is None:
                raise
            customer_id = customer.id or (await conn.execute(_CUSTOMER_BY_EMAIL_SQL, {"e": customer.email})).scalar()
            if customer_id is None:
                raise  # a customer token naming no customer: nobody to audit
        await self.record_wrong_realm(conn, request, f"customer:{customer_id}", obj, action)
        raise Forbidden("A customer token cannot call an operator route.")

    async def record_wrong_realm(self, conn: AsyncConnection, request: Request, subject: str, obj: str,
                                 action: str) -> None:
        """The audit entry of a token refused because it belongs to the other realm (authorized false)."""
        if self.audit_enabled:
            await audit.record(conn, subject, obj, action, False,
                               request_id=getattr(request.state, "request_id", None))

    async def customer_identity(self, authorization: str | None) -> Identity:
        return await self.customer_verifier.identity(authorization)

    def can(self, principal: Principal, action: str, object_id: str | None = None) -> bool:
        """Silent check (no audit entry), for UI capability flags (§B2 evaluate_permission,
        ``api/capabilities.py``): the enforcer of the policy this request was authorized with."""
        if self.policies.enforcer is None or self.policies.version is None:
            return False
        return self._enforce(self.policies.version, principal.subject, permission_object(action, object_id), action)


def require(permission: str, *, id_param: str | None = None) -> Any:
    """Declare and enforce ``permission`` on an endpoint (see module docstring)."""
    if permission.count(":") != 2:
        raise ValueError(f"permission must be module:entity:action, got {permission!r}")

    async def dependency(request: Request) -> Principal:
        object_id = request.path_params.get(id_param) if id_param else None
        authz: Authorizer = request.app.state.authz
        return await authz.check(request, permission, permission_object(permission, object_id))

    dependency.__lana_permission__ = permission  # type: ignore[attr-defined]
    dependency.__lana_id_param__ = id_param  # type: ignore[attr-defined]
    return Depends(dependency)


def route_markers(route, attribute: str) -> list[str]:
    """The values of one access marker (``__lana_permission__``, ``__lana_ownership__``) that a
    route's dependencies carry (walks its dependency tree)."""
    found: list[str] = []
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        marker = getattr(dep.call, attribute, None)
        if marker:
            found.append(marker)
        stack.extend(dep.dependencies)
    return found


def route_permissions(route) -> list[str]:
    """The permissions a route declares."""
    return route_markers(route, "__lana_permission__")


def system_principal(actor: str) -> Principal:
    return Principal(subject=f"system:{actor}")


def parse_user_id(principal: Principal) -> uuid.UUID | None:
    return uuid.UUID(principal.user_id) if principal.user_id else None
