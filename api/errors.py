"""The one place where errors become RFC 9457 problem+json responses."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import LanaError

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"

_HTTP_CODES = {
    400: "common.bad_request",
    401: "auth.unauthenticated",
    403: "auth.forbidden",
    404: "common.not_found",
    405: "common.method_not_allowed",
    406: "common.not_acceptable",
    409: "common.conflict",
    413: "common.payload_too_large",
    415: "common.unsupported_media_type",
    422: "common.validation_failed",
}


def problem(status: int, code: str, title: str, detail: str, request: Request, **extra) -> JSONResponse:
    body = {
        "type": f"https://lana.bank/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": str(request.url.path),
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif status == 503:  # every 503 is safe to repeat; say when
        headers = {"Retry-After": str(extra.get("retry_after") or 1)}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def payload_too_large(request: Request, limit: int) -> JSONResponse:
    return problem(413, "common.payload_too_large", "Payload too large",
                   f"The request body is limited to {limit} bytes.", request, max_bytes=limit)


def _jsonable_errors(errors) -> list[dict]:
    out = []
    for e in errors:
        out.append({"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")), "type": e.get("type")})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(LanaError)
    async def _lana(request: Request, exc: LanaError):
        return problem(exc.status, exc.code, exc.title, exc.detail, request, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return problem(422, "common.validation_failed", "Validation failed", "The request is invalid.",
                       request, errors=_jsonable_errors(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 413 and isinstance(getattr(exc, "limit", None), int):
            return payload_too_large(request, exc.limit)  # a streamed body passed its limit
        code = _HTTP_CODES.get(exc.status_code, "common.http_error")
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail), request)

    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError):
        # SQLSTATE class 22 (data exception): input PostgreSQL cannot store, such as a NUL
        # character in text or an out-of-range number. The transaction was rolled back: a 422.
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None),
                                                                   "sqlstate", None)
        if sqlstate and str(sqlstate).startswith("22"):
            return problem(422, "common.invalid_input", "Invalid input",
                           "The request contains a value that cannot be stored (e.g. a NUL character).",
                           request)
        log.exception("database error", path=request.url.path)
        return problem(500, "common.internal", "Internal error", "An unexpected error occurred.", request)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception):
        log.exception("unhandled error", path=request.url.path)
        return problem(500, "common.internal", "Internal error", "An unexpected error occurred.", request)
