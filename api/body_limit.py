"""Request body limits, per route, enforced before the body is read.

An ASGI middleware: a declared ``Content-Length`` over the route's limit is refused before the
application runs; a body without one (chunked) is counted as it streams and refused as soon as it
passes the limit, so neither a JSON parser, the multipart spooler nor a webhook's signature check
ever holds more than the limit. Refusals are 413 problem+json ``common.payload_too_large``.

Limits are chosen by method and route template (``BodyLimits.route``); every other request gets the
default. Templates must name real routes: ``check`` refuses a limit for a route that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import payload_too_large

MULTIPART_OVERHEAD = 64 * 1024  # part headers, boundaries, other small fields


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises HTTPExceptions met while parsing a body, and the
    error handlers turn it into the 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The request body is limited to {limit} bytes.")
        self.limit = limit


class BodyLimits:
    def __init__(self, default: int) -> None:
        self.default = default
        self.rules: list[tuple[str, str, re.Pattern[str], int]] = []

    def route(self, method: str, template: str, limit: int) -> BodyLimits:
        self.rules.append((method.upper(), template, compile_path(template)[0], limit))
        return self

    def prefix(self, prefix: str, limit: int) -> BodyLimits:
        self.rules.append(("*", prefix + "{rest:path}", re.compile("^" + re.escape(prefix) + ".*$"), limit))
        return self

    def limit_for(self, method: str, path: str) -> int:
        for rule_method, _template, pattern, limit in self.rules:
            if rule_method in ("*", method) and pattern.match(path):
                return limit
        return self.default

    def check(self, routes: Iterable) -> None:
        """Every template names a route of the app (a typo would silently fall back to the default)."""
        known = _route_paths(routes)
        for method, template, _pattern, _limit in self.rules:
            if method != "*" and template not in known:
                raise ValueError(f"body limit for {method} {template}: no such route")


def _route_paths(routes: Iterable) -> set[str]:
    try:  # FastAPI >= 0.16x keeps an included router as one entry of app.routes
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return {getattr(r, "path", "") for r in routes}
    return {ctx.path for ctx in iter_route_contexts(list(routes))}


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.limit_for(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = payload_too_large(Request(scope, receive), limit)
        response.headers["connection"] = "close"  # the rest of the body is never read
        await response(scope, receive, send)
