"""The one Temporal boundary: how a domain error crosses into Temporal, and how activities are run.

One rule decides everywhere whether a failed step is retried: ``LanaError.transient`` (a lock, a
concurrent append, a store briefly unavailable) is retried by the activity's retry policy; any
other ``LanaError`` is a refusal, raised as a non-retryable ``ApplicationError(type=code)`` so the
workflow (or the API, through ``api/workflow_calls.py``) sees the stable code at once. Unexpected
exceptions are retried (they are bugs or outages, not decisions).

- :func:`lana_activity` declares an activity and applies the rule to whatever it raises;
- :func:`application_error` is the conversion itself (also used by workflows);
- :func:`refuse` / :func:`check` reject an Update in its validator or handler;
- :func:`refusal_of` turns a failed activity back into the refusal an Update should answer with;
- :data:`ACTIVITY_OPTIONS` are the options every workflow passes to ``execute_activity*``;
  :data:`COMMAND_OPTIONS` (bounded attempts) for a step run under a lock for a waiting caller.

Safe to import from workflows (no I/O at import time).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, NoReturn, ParamSpec, TypeVar

from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from domain.errors import LanaError

P = ParamSpec("P")
T = TypeVar("T")

RETRY_POLICY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(seconds=30))
ACTIVITY_OPTIONS: dict[str, Any] = {"start_to_close_timeout": timedelta(seconds=30), "retry_policy": RETRY_POLICY}
# A step run under a workflow lock for a caller who is waiting (an Update): a few quick attempts
# (well inside the API's 8 s), then the Update fails ``common.unavailable`` and the caller repeats,
# so no handler holds its lock across an outage's retries.
COMMAND_RETRY_POLICY = RetryPolicy(initial_interval=timedelta(milliseconds=500), backoff_coefficient=2.0,
                                   maximum_interval=timedelta(seconds=2), maximum_attempts=3)
COMMAND_OPTIONS: dict[str, Any] = {"start_to_close_timeout": timedelta(seconds=5),
                                   "retry_policy": COMMAND_RETRY_POLICY}


def application_error(exc: LanaError) -> ApplicationError:
    """The ``ApplicationError`` that carries a domain error across Temporal."""
    return ApplicationError(exc.detail, type=exc.code, non_retryable=not exc.transient)


def refuse(exc: LanaError) -> NoReturn:
    """Reject an Update (validator or handler) with the domain error's code."""
    raise application_error(exc) from exc


def check(rule: Callable[..., T], *args: Any) -> T:
    """Run a pure domain rule; a refusal rejects the Update with its code."""
    try:
        return rule(*args)
    except LanaError as exc:
        refuse(exc)


def refusal_of(exc: ActivityError) -> ApplicationError | None:
    """The domain refusal behind a failed activity (None when it failed for another reason)."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type and cause.non_retryable:
        return ApplicationError(cause.message, type=cause.type, non_retryable=True)
    return None


def lana_activity(name: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """``@activity.defn(name=name)`` whose domain errors cross the boundary by the one rule."""

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return await fn(*args, **kwargs)
            except LanaError as exc:
                raise application_error(exc) from exc

        return activity.defn(name=name)(run)

    return decorate
