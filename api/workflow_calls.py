"""Calling workflows from the API: map Temporal failures back to the domain's errors.

Every Update the API sends goes through :func:`call`, so three rules hold everywhere:

- an ``ApplicationError(type=code)`` raised by a validator or handler becomes that ``LanaError``;
- a workflow that is not running (never started yet, or already closed) becomes ``closed`` when the
  caller knows what that means, else :class:`WorkflowNotRunning` for the caller to interpret;
- an answer that does not come within ``timeout`` (no worker polling, Temporal slow) becomes a 503
  with ``Retry-After``; every Update is checked by the domain rule in its validator, so repeating the
  request never applies it twice (a vote that landed answers ``already_voted``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import LanaError, ServiceUnavailable, from_code

T = TypeVar("T")

# Bound on how long an API request waits for a workflow to answer an Update.
UPDATE_TIMEOUT_S = 8.0


class WorkflowNotRunning(ServiceUnavailable):
    """The target workflow does not exist (yet) or has closed; the caller decides which."""

    code = "common.workflow_not_running"
    title = "Process not running"


async def call(awaitable: Awaitable[T], *, closed: LanaError | None = None) -> T:
    """Await a workflow update/query; turn Temporal's failures into LanaErrors (see module doc)."""
    try:
        return await asyncio.wait_for(awaitable, UPDATE_TIMEOUT_S)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = cause.cause
        if isinstance(cause, ApplicationError) and cause.type:
            raise from_code(cause.type, cause.message) from exc
        raise
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise ServiceUnavailable("No worker answered in time; the request is safe to repeat.",
                                 retry_after=2) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            if closed is not None:
                raise closed from exc
            raise WorkflowNotRunning("The process is not running.", retry_after=1) from exc
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                          RPCStatusCode.CANCELLED):
            raise ServiceUnavailable("Temporal is unreachable; the request is safe to repeat.",
                                     retry_after=2) from exc
        raise
