"""The event loop of the benchmarks' load generators: uvloop where it is installed
(``uvicorn[standard]`` brings it on Linux and macOS; the API runs on it under uvicorn), else
asyncio's own. A load generator on the same 2 cores as the bank takes CPU from what it measures,
so it spends as little as it can. The worker stays on asyncio's loop: on uvloop its CPU per
facility did not change (docs/credit.md, 2026-12-02 evening)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory():
    """``uvloop.new_event_loop`` when uvloop imports, else ``None`` (asyncio's default loop)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows, or a slim install without uvicorn[standard]
        return None
    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on :func:`loop_factory`'s loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)
