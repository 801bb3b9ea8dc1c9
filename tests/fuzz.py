"""Schemathesis over an app's whole OpenAPI document, sent through an httpx client.

Requests go through the caller's ``httpx.AsyncClient`` (``stack.http``), so whatever the harness puts
there (base URL, default headers such as a bearer token) applies to every fuzzed request. Hypothesis
runs in a worker thread; each request is submitted to the event loop that owns the app, its database
engine and its Temporal client.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

PROBLEM = "application/problem+json"
TOTAL_REQUESTS = int(os.environ.get("LANA_FUZZ_REQUESTS", "1500"))
MIN_EXAMPLES, MAX_EXAMPLES = 5, 25


@dataclass
class FuzzReport:
    operations: list[str] = field(default_factory=list)
    requests: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)  # (operation label, status) -> count
    failures: list[str] = field(default_factory=list)


def violation(response: httpx.Response, documented: frozenset[int] = frozenset()) -> str | None:
    """Why a response breaks the API's error contract, or None. A 5xx is a failure unless the
    operation documents it (``/readyz`` answers 503 when a dependency is slow or down)."""
    status = response.status_code
    if status >= 500 and status not in documented:
        return f"server error {status}: {response.text[:300]}"
    if 400 <= status < 500:
        ctype = response.headers.get("content-type", "")
        if not ctype.startswith(PROBLEM):
            return f"{status} with content-type {ctype!r}, expected {PROBLEM}"
        try:
            body = response.json()
        except ValueError:
            return f"{status} problem body is not JSON"
        if body.get("status") != status or not body.get("code"):
            return f"{status} problem body lacks a matching status or a code: {body}"
    return None


def documented_5xx(operation) -> frozenset[int]:
    responses = operation.definition.raw.get("responses", {})
    # 500 is never acceptable, even if documented
    return frozenset(int(code) for code in responses if str(code).isdigit() and int(code) > 500)


def _to_httpx(kwargs: dict) -> dict:
    """Serialise a case exactly as schemathesis means it (requests rules), then hand it to httpx."""
    kwargs = {k: v for k, v in kwargs.items() if k in {"method", "url", "headers", "params", "cookies",
                                                       "json", "data", "files"}}
    prepared = requests.Request(**kwargs).prepare()
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "connection"}
    return {"method": prepared.method, "url": prepared.url, "headers": headers, "content": prepared.body}


async def fuzz_app(http: httpx.AsyncClient, openapi: dict, *, total_requests: int = TOTAL_REQUESTS) -> FuzzReport:
    schema = schemathesis.openapi.from_dict(openapi)
    operations = [result.ok() for result in schema.get_all_operations()]
    examples = max(MIN_EXAMPLES, min(MAX_EXAMPLES, total_requests // max(1, 2 * len(operations))))
    loop = asyncio.get_running_loop()
    report = FuzzReport(operations=[op.label for op in operations])

    def send(case) -> None:
        req = _to_httpx(case.as_transport_kwargs(base_url=str(http.base_url).rstrip("/")))
        report.requests += 1
        label = case.operation.label
        report.per_operation[label] = report.per_operation.get(label, 0) + 1
        future = asyncio.run_coroutine_threadsafe(http.request(**req), loop)
        try:
            response = future.result(timeout=60)
            report.statuses[(label, response.status_code)] += 1
            problem = violation(response, documented_5xx(case.operation))
        except Exception as exc:  # noqa: BLE001 - an exception escaping the app is a failure too
            problem = f"raised {type(exc).__name__}: {exc}"
        if problem and len(report.failures) < 50:
            report.failures.append(f"{req['method']} {req['url']} body={req['content']!r:.200}: {problem}")

    def run() -> None:
        for op in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                check = given(op.as_strategy(generation_mode=mode))(send)
                check = hsettings(
                    max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
                )(check)
                try:
                    check()
                except Unsatisfiable:  # nothing to negate (e.g. no parameters)
                    pass

    await asyncio.to_thread(run)
    return report
