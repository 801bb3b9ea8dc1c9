"""The FastAPI application factory."""

from __future__ import annotations

import time
import uuid
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from activities.custody.secrets import keyring_from_settings
from activities.storage import document_link_secret
from api import errors, health, idempotency, security_setup
from api.body_limit import MULTIPART_OVERHEAD, BodyLimitMiddleware, BodyLimits
from api.customers.webhooks import check_webhook_secret
from api.deps import LazyTemporal
from api.enums import canonical_openapi
from api.portal import portal_routers
from api.stream_hub import StreamHub
from ground.db import asyncpg_dsn, create_engine
from ground.settings import Settings
from ground.temporal import connect

API_PREFIX = "/api/v1"
access_log = structlog.get_logger("lana.access")


class RequestContextMiddleware:
    """The request id (``x-request-id`` in and out, on ``request.state`` and in every log line) and
    one access line per request. Plain ASGI: no task and memory streams per request, as
    ``BaseHTTPMiddleware`` (``@app.middleware("http")``) costs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = Headers(scope=scope).get("x-request-id", "")
        if not rid or len(rid) > 128 or not rid.isprintable():
            rid = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = rid
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001 - escaped a middleware: answer here, so it is logged below
            if status is not None:
                raise  # the answer has begun; nothing else can be sent
            await errors.unexpected_error_response(Request(scope), exc)(scope, receive, send_with_id)
        access_log.info("request", method=scope["method"], path=scope["path"], status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 1))


def operator_routers() -> list[APIRouter]:
    """Every operator router, mounted under /api/v1. Add new module routers here."""
    from api import (
        access,
        accounting,
        audit,
        business_time,
        credit,
        custody,
        customers,
        dashboard,
        deposits,
        governance,
        ledger,
        price,
        reports,
        streams,
        timelines,
    )

    return [access.router, audit.router, governance.router, ledger.router, *customers.operator_routers(),
            *credit.operator_routers(), price.router, *accounting.operator_routers(),
            *deposits.operator_routers(), business_time.router, *custody.operator_routers(), dashboard.router,
            timelines.router, reports.router, streams.router]


def public_routers() -> list[APIRouter]:
    """Routes outside /api/v1: webhooks (signature-checked), signed links, and the server-rendered
    pages (bearer or page-cookie authentication, ``api/portfolio_page.py``)."""
    from api import custody, customers, portfolio_page

    return [*customers.public_routers(), *custody.public_routers(), portfolio_page.router]


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    temporal_client: Client | None = None,
) -> FastAPI:
    owns_engine = engine is None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        if settings.documents_storage != "s3":
            document_link_secret(settings)  # production refuses to start without one
        check_webhook_secret(settings)
        app.state.custody_keyring = keyring_from_settings(settings)  # production refuses to start without a key
        settings.custody_mock  # noqa: B018 - raises when the mock custodian is enabled in production
        app.state.engine = engine or create_engine(
            settings.database_url, pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        app.state.temporal = LazyTemporal(lambda: connect(settings))
        if temporal_client is not None:
            app.state.temporal.set(temporal_client)
        app.state.streams = StreamHub(asyncpg_dsn(settings.database_url), settings.stream_queue_size)
        await security_setup.start(app, settings, app.state.engine)
        yield
        await app.state.streams.close()
        await security_setup.stop(app)
        if owns_engine:
            await app.state.engine.dispose()

    app = FastAPI(
        title="Lana bank API",
        version="0.1.0",
        description="Operator API of Lana, a banking core for Bitcoin-backed lending, and its customer portal "
        "(`/api/v1/portal`, customer-realm tokens, access by ownership). "
        "Errors are RFC 9457 problem+json with a stable `code`.",
        lifespan=lifespan,
    )
    errors.install(app)
    idempotency.install(app)
    limits = body_limits(settings)
    app.add_middleware(BodyLimitMiddleware, limits=limits)

    app.add_middleware(RequestContextMiddleware)

    app.include_router(health.router)
    for router in operator_routers():
        app.include_router(router, prefix=API_PREFIX)
    for router in portal_routers():
        app.include_router(router, prefix=API_PREFIX)
    for router in public_routers():
        app.include_router(router)
    limits.check(app.routes)
    _canonical_openapi(app)
    return app


def _canonical_openapi(app: FastAPI) -> None:
    """The OpenAPI document with enum defaults in the API's spelling (api/enums.py)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = canonical_openapi(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def body_limits(settings: Settings) -> BodyLimits:
    """Per-route request body limits; everything else gets ``LANA_API_MAX_BODY_BYTES``."""
    from api.accounting.chart import MAX_CSV_BYTES

    csv = MAX_CSV_BYTES + MULTIPART_OVERHEAD
    return (BodyLimits(settings.api_max_body_bytes)
            .prefix("/webhooks/", settings.webhook_max_body_bytes)
            .route("POST", f"{API_PREFIX}/customers/{{customer_id}}/documents",
                   settings.documents_max_bytes + MULTIPART_OVERHEAD)
            .route("POST", f"{API_PREFIX}/chart-of-accounts/import", csv)
            .route("POST", f"{API_PREFIX}/chart-of-accounts/import-with-base-config", csv))
