"""The one place where errors become RFC 9457 problem+json responses."""

from __future__ import annotations

import traceback

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.enums import accepted_values
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


# How long a client should wait before repeating a request that met an unavailable database.
STORE_RETRY_AFTER_S = 2
# SQLSTATE classes / codes that mean "the connection, not the request": 08 connection exception,
# 57P01-57P03 admin / crash shutdown, cannot connect now (starting or stopping).
_CONNECTION_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def _through_driver(exc: BaseException) -> bool:
    """Whether the exception was raised inside the database driver or SQLAlchemy."""
    return any(("/asyncpg/" in f.filename or "/sqlalchemy/" in f.filename)
               for f in traceback.extract_tb(exc.__traceback__))


def _driver_error(exc: DBAPIError) -> BaseException | None:
    """The driver's own exception under SQLAlchemy's wrapper (asyncpg's, under the adapter's)."""
    return getattr(exc.orig, "__cause__", None) or exc.orig


def _bad_bind_value(exc: DBAPIError) -> bool:
    """asyncpg refused a parameter before sending it (e.g. an integer beyond int64): the input."""
    return type(_driver_error(exc)).__name__ == "DataError"


def store_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is the database being unreachable rather than the request
    being wrong: refused or reset connections, a dropped server connection, a pool timeout."""
    for _ in range(8):
        if exc is None:
            return False
        if isinstance(exc, PoolTimeout):
            return True
        if isinstance(exc, DBAPIError):
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                return True
            if isinstance(exc, InterfaceError) and not _bad_bind_value(exc):
                return True
        if isinstance(exc, OSError) and _through_driver(exc):  # refused, reset, timed out, unresolvable
            return True
        if str(getattr(exc, "sqlstate", "") or "").startswith(_CONNECTION_SQLSTATES):
            return True
        if type(exc).__module__.startswith("asyncpg") and type(exc).__name__ == "ConnectionDoesNotExistError":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def store_unavailable_problem(request: Request) -> JSONResponse:
    return problem(503, "common.store_unavailable", "Store unavailable",
                   "The database is unreachable; retry later. Repeating the request with the same "
                   "Idempotency-Key is safe.",
                   request, retry_after=STORE_RETRY_AFTER_S)


def unexpected_error_response(request: Request, exc: Exception) -> JSONResponse:
    """The answer for an exception no handler took: 503 when the database is away, else 500."""
    if store_unavailable(exc):
        log.warning("database unavailable", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
        return store_unavailable_problem(request)
    log.exception("unhandled error", path=request.url.path, exc_info=exc)
    return problem(500, "common.internal", "Internal error", "An unexpected error occurred.", request)


def _jsonable_errors(errors) -> list[dict]:
    """``loc`` / ``msg`` / ``type`` of each error; an enum, literal or tag mismatch also lists the
    ``accepted`` values (canonical SCREAMING_SNAKE spelling, api/enums.py) and says them in ``msg``."""
    out = []
    for e in errors:
        item = {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")), "type": e.get("type")}
        accepted = accepted_values(e)
        if accepted:
            item["accepted"] = accepted
            if e.get("type") != "union_tag_invalid":
                item["type"] = "enum"
            item["msg"] = f"Input should be one of: {', '.join(accepted)}"
        out.append(item)
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
        if (sqlstate and str(sqlstate).startswith("22")) or _bad_bind_value(exc):
            return problem(422, "common.invalid_input", "Invalid input",
                           "The request contains a value that cannot be stored (e.g. a NUL character).",
                           request)
        return unexpected_error_response(request, exc)

    @app.exception_handler(SQLAlchemyError)  # pool timeouts and other non-driver errors
    async def _sqlalchemy(request: Request, exc: SQLAlchemyError):
        return unexpected_error_response(request, exc)

    @app.exception_handler(OSError)  # a refused or reset connection raised as it is by the driver
    async def _os(request: Request, exc: OSError):
        return unexpected_error_response(request, exc)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception):
        return unexpected_error_response(request, exc)
