"""One exception hierarchy for the whole bank.

Every error carries a stable machine-readable ``code`` (``<module>.<error_name>``) and the HTTP
status the API maps it to (RFC 9457 problem+json, see ``api/errors.py``). Workflows re-raise these
as ``ApplicationError`` with ``type=code`` so the API can map an update's failure the same way.
"""

from __future__ import annotations

from typing import Any


class LanaError(Exception):
    """A domain error. ``transient`` says whether repeating the same step may succeed (a lock, a
    concurrent append, a store briefly away: retry) or not (a refusal: never retried)."""

    code: str = "common.error"
    status: int = 400
    title: str = "Request failed"
    transient: bool = False

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.extra = extra


class ValidationFailed(LanaError):
    code = "common.validation_failed"
    status = 422
    title = "Validation failed"


class NotFound(LanaError):
    code = "common.not_found"
    status = 404
    title = "Not found"


class Conflict(LanaError):
    code = "common.conflict"
    status = 409
    title = "Conflict"


class ConcurrencyConflict(Conflict):
    """An optimistic-concurrency check failed: someone else appended first."""

    code = "common.concurrent_update"
    title = "Concurrent update"
    transient = True


class IdempotencyKeyReused(LanaError):
    code = "common.idempotency_key_reused"
    status = 422
    title = "Idempotency key reused with a different request"


class Unauthenticated(LanaError):
    code = "auth.unauthenticated"
    status = 401
    title = "Unauthenticated"


class Forbidden(LanaError):
    code = "auth.forbidden"
    status = 403
    title = "Forbidden"


class ServiceUnavailable(LanaError):
    code = "common.unavailable"
    status = 503
    title = "Service unavailable"
    transient = True


ERROR_TYPES: dict[str, type[LanaError]] = {}


def register(cls: type[LanaError]) -> type[LanaError]:
    """Class decorator: make an error type reconstructible from its code (workflow → API)."""
    ERROR_TYPES[cls.code] = cls
    return cls


for _cls in (ValidationFailed, NotFound, Conflict, ConcurrencyConflict, IdempotencyKeyReused,
             Unauthenticated, Forbidden, ServiceUnavailable):
    register(_cls)


def from_code(code: str, detail: str, status: int | None = None) -> LanaError:
    cls = ERROR_TYPES.get(code)
    if cls is None:
        err = LanaError(detail, code=code)
        if status:
            err.status = status
        return err
    return cls(detail, code=code)
