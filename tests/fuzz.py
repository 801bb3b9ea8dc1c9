"""Schemathesis over an app's whole OpenAPI document, sent through an httpx client.

Requests go through the caller's ``httpx.AsyncClient`` (``stack.http``), so whatever the harness puts
there (base URL, default headers such as a bearer token) applies to every fuzzed request. Hypothesis
runs in a worker thread; each request is submitted to the event loop that owns the app, its database
engine and its Temporal client.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
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


# --- Strategies for what plain schema-driven generation rarely produces ------------------------
# Pagination cursors are opaque strings to the schema, so generated ones are never valid base64 JSON
# and never reach the key parsing; decimal strings rarely get beyond a handful of digits. These
# formats make every ``after`` parameter a crafted cursor (JSON lists of wrong types, huge numbers,
# NUL characters, odd timestamps) and every decimal string field a long or extreme decimal.

_CURSOR_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.datetimes().map(lambda d: d.isoformat()), st.uuids().map(str),
    st.sampled_from(["\x00", "9999-12-31T23:59:59", "+999999-01-01", "0001-01-01T00:00:00", "1" * 40]),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def crafted_cursors() -> st.SearchStrategy[str]:
    # Mostly JSON lists of one to three values: the shape real cursors have, so the values reach
    # the key parsing; now and then another JSON value or plain text.
    lists = st.lists(_CURSOR_VALUES, min_size=1, max_size=3)
    as_json = st.one_of(lists, lists, lists, _CURSOR_VALUES).map(
        lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode())
    return st.one_of(as_json, as_json, as_json, st.text(max_size=24)).filter(lambda c: len(c) <= 512)


def extreme_decimals() -> st.SearchStrategy[str]:
    digits = st.text(alphabet="0123456789", min_size=1, max_size=60)
    extremes = st.sampled_from(["1" * 29, "9" * 40 + ".5", "1" * 27 + ".123", "0." + "0" * 40 + "1", "1e999999",
                                "-1e-999999", "NaN", "Infinity", "-0", "1E+28", "92233720368547758.08"])
    # More significant digits than decimal's default context (28), with more decimals than any
    # currency has: what overflowed quantize() and the ledger's 64-bit units.
    too_precise = st.tuples(st.integers(20, 45), st.integers(3, 20)).map(lambda t: "1" * t[0] + "." + "3" * t[1])
    return st.one_of(too_precise, too_precise, extremes, st.tuples(digits, st.none() | digits).map(
        lambda t: t[0] + (f".{t[1]}" if t[1] else "")))


def _b64(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


_NIL = "00000000-0000-0000-0000-000000000000"
# Sent as ``after`` to every list once, before the generated cases: each is malformed for every
# key shape the API uses ((created_at, id), (name, id), (id,), (recorded_at, tx, sequence), …).
CURSOR_PROBES = (
    "%%%not-base64", _b64({"a": 1}), _b64([]), _b64([3.5]), _b64([1, 2]), _b64([None, None]),
    _b64(["2026-01-01T00:00:00+00:00", "not-a-uuid"]), _b64([{"a": 1}, [2]]), _b64([10**30]),
    _b64([-(10**30), _NIL]), _b64(["\u0000", "\u0000"]), _b64(["x", _NIL, 1, 2]), _b64([True, False]),
    _b64(["+999999-01-01", "not-a-uuid"]), _b64(["2026-01-01T00:00:00", _NIL, "x"]),
    _b64(["2026-01-01T00:00:00", _NIL, 10**30]),
)


def cursor_lists(openapi: dict) -> list[str]:
    """Every GET with an ``after`` parameter and no path parameter."""
    return sorted(path for path, item in openapi.get("paths", {}).items()
                  if "get" in item and "{" not in path
                  and any(p.get("name") == "after" for p in item["get"].get("parameters", [])))


schemathesis.openapi.format("lana-cursor", crafted_cursors())
schemathesis.openapi.format("lana-decimal", extreme_decimals())
_DECIMAL_PATTERN = re.compile(r"(\\d|\[0-9\])[^a-z]*\\\.")


def _is_decimal_string(schema: dict) -> bool:
    if schema.get("type") != "string" or "format" in schema or "enum" in schema:
        return False
    return "decimal" in schema.get("description", "").lower() or bool(_DECIMAL_PATTERN.search(schema.get("pattern", "")))


def _mark_decimals(node) -> None:
    if isinstance(node, dict):
        if _is_decimal_string(node):
            for bound in ("pattern", "maxLength", "minLength"):
                node.pop(bound, None)
            node["format"] = "lana-decimal"
        for value in node.values():
            _mark_decimals(value)
    elif isinstance(node, list):
        for value in node:
            _mark_decimals(value)


def with_crafted_formats(openapi: dict) -> dict:
    """A copy of the document whose ``after`` query parameters and decimal strings use the
    formats above (same operations, same number of requests)."""
    doc = copy.deepcopy(openapi)
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if param.get("in") == "query" and param.get("name") == "after":
                    param["schema"] = {"type": "string", "format": "lana-cursor"}
    _mark_decimals(doc.get("components", {}))
    _mark_decimals(doc.get("paths", {}))
    return doc


def _to_httpx(kwargs: dict) -> dict:
    """Serialise a case exactly as schemathesis means it (requests rules), then hand it to httpx."""
    kwargs = {k: v for k, v in kwargs.items() if k in {"method", "url", "headers", "params", "cookies",
                                                       "json", "data", "files"}}
    prepared = requests.Request(**kwargs).prepare()
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "connection"}
    return {"method": prepared.method, "url": prepared.url, "headers": headers, "content": prepared.body}


STREAM_WAIT_S = 0.2


async def _stream_or_request(http: httpx.AsyncClient, req: dict) -> httpx.Response | None:
    """An SSE route (``text/event-stream``, api/streams.py): its refusals answer at once; a stream
    that opens never ends, and httpx's ASGI transport waits for the whole body, so after a moment
    it is cancelled (which also unsubscribes it) and reported as None."""
    try:
        return await asyncio.wait_for(http.request(**req), STREAM_WAIT_S)
    except TimeoutError:
        return None


async def fuzz_app(http: httpx.AsyncClient, openapi: dict, *, total_requests: int = TOTAL_REQUESTS) -> FuzzReport:
    schema = schemathesis.openapi.from_dict(with_crafted_formats(openapi))
    operations = [result.ok() for result in schema.get_all_operations()]
    lists = cursor_lists(openapi)
    probes = len(lists) * len(CURSOR_PROBES)  # paid for out of the same request budget
    examples = max(MIN_EXAMPLES, min(MAX_EXAMPLES, (total_requests - probes) // max(1, 2 * len(operations))))
    loop = asyncio.get_running_loop()
    report = FuzzReport(operations=[op.label for op in operations])
    for path in lists:
        for cursor in CURSOR_PROBES:
            report.requests += 1
            response = await http.get(path, params={"after": cursor})
            problem = violation(response)
            if problem and len(report.failures) < 50:
                report.failures.append(f"GET {path}?after={cursor}: {problem}")

    streams = {f"{method.upper()} {path}" for path, item in openapi.get("paths", {}).items()
               for method, operation in item.items()
               if "text/event-stream" in operation.get("responses", {}).get("200", {}).get("content", {})}

    def send(case) -> None:
        req = _to_httpx(case.as_transport_kwargs(base_url=str(http.base_url).rstrip("/")))
        report.requests += 1
        label = case.operation.label
        report.per_operation[label] = report.per_operation.get(label, 0) + 1
        is_stream = label in streams
        future = asyncio.run_coroutine_threadsafe(
            _stream_or_request(http, req) if is_stream else http.request(**req), loop)
        try:
            response = future.result(timeout=60)
            if response is None:  # a stream opened (it never ends here): no error before it
                report.statuses[(label, 200)] += 1
                return
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
