"""Calling workflows from the API: map Temporal failures back to the domain's errors."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import LanaError, ServiceUnavailable, from_code

T = TypeVar("T")


async def call(awaitable: Awaitable[T], *, closed: LanaError | None = None) -> T:
    """Await a workflow update/query; turn an ApplicationError(type=code) into that LanaError.

    ``closed`` is raised when the workflow has already completed (e.g. a vote after conclusion).
    """
    try:
        return await awaitable
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = cause.cause
        if isinstance(cause, ApplicationError) and cause.type:
            raise from_code(cause.type, cause.message) from exc
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and closed is not None:
            raise closed from exc
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise ServiceUnavailable("Temporal is unreachable.") from exc
        raise
