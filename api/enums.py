"""The one spelling of enum values in the HTTP API: SCREAMING_SNAKE_CASE (as lana's GraphQL API).

The domain and the database keep their own values (``"FullyCollateralized"``, ``"in_progress"``,
``"debit"``…); the mapping happens here, at the API boundary, for every schema field and parameter
that carries an enum:

* output: the canonical spelling, ``normalize(domain value)`` (``FullyCollateralized`` →
  ``FULLY_COLLATERALIZED``, ``credit-facility-proposal`` → ``CREDIT_FACILITY_PROPOSAL``);
* input: any spelling of a known value: case-insensitive, ``_`` / ``-`` / space separators,
  PascalCase or camelCase, so existing clients keep working. The handler receives the domain value
  (the domain enum member, or the domain string for a plain set of values);
* an unknown value: a validation error of type ``enum`` whose ``accepted`` context lists the
  canonical values (``api/errors.py`` puts it in the 422's ``errors[]`` entry);
* the OpenAPI schema lists the canonical values (``enum``), see ``fix_openapi_defaults`` for defaults.

Usage: ``status: ApiEnum[WithdrawalStatus] | None = None`` or ``Direction = api_enum("asc", "desc")``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from enum import Enum
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_SEPARATORS = re.compile(r"[\s\-_.]+")


@functools.lru_cache(maxsize=4096)
def normalize(value: str) -> str:
    """``FullyCollateralized`` / ``fully-collateralized`` / ``fully collateralized`` → ``FULLY_COLLATERALIZED``
    (memoized: every enum field of every response passes here, and the values are few)."""
    s = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", value.strip()))
    return _SEPARATORS.sub("_", s).strip("_").upper()


def is_canonical(value: object) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", value))


def _domain_values(sources: Iterable[type[Enum] | str | Enum]) -> list[Any]:
    out: list[Any] = []
    for s in sources:
        if isinstance(s, type) and issubclass(s, Enum):
            out.extend(s)
        else:
            out.append(s)
    return out


def api_enum(*sources: type[Enum] | str | Enum, title: str | None = None) -> Any:
    """The API-facing type of a domain enum (or of several, or of plain domain strings / members).

    Validation maps any spelling to the domain value; JSON serialization emits the canonical one.
    """
    by_canonical: dict[str, Any] = {}
    for value in _domain_values(sources):
        key = normalize(str(value.value if isinstance(value, Enum) else value))
        by_canonical.setdefault(key, value)
    accepted = list(by_canonical)
    python_type: Any = sources[0] if len(sources) == 1 and isinstance(sources[0], type) else str
    expected = ", ".join(accepted)

    def parse(v: Any) -> Any:
        if isinstance(v, str):
            found = by_canonical.get(normalize(v))
            if found is not None:
                return found
        raise PydanticCustomError("enum", "Input should be one of: {expected}",
                                  {"expected": expected, "accepted": accepted})

    def emit(v: Any) -> str:
        return normalize(str(v.value if isinstance(v, Enum) else v))

    schema: dict[str, Any] = {"type": "string", "enum": accepted}
    if title:
        schema["title"] = title
    return Annotated[python_type, BeforeValidator(parse), PlainSerializer(emit, return_type=str, when_used="json"),
                     WithJsonSchema(schema)]


class _ApiEnumAlias:
    """``ApiEnum[SomeStrEnum]`` is ``api_enum(SomeStrEnum)`` (cached, so a schema is built once)."""

    _cache: dict[Any, Any] = {}

    def __class_getitem__(cls, item: Any) -> Any:
        items = item if isinstance(item, tuple) else (item,)
        if items not in cls._cache:
            cls._cache[items] = api_enum(*items)
        return cls._cache[items]


ApiEnum = _ApiEnumAlias

# Sort direction of every list (the lists' default is DESC).
Direction = api_enum("asc", "desc")


def accepted_values(error: dict) -> list[str] | None:
    """The values a failed enum / literal / tagged-union check accepts, canonical, or None."""
    ctx = error.get("ctx") or {}
    if isinstance(ctx.get("accepted"), list):
        return [str(a) for a in ctx["accepted"]]
    raw = ctx.get("expected") if error.get("type") in ("enum", "literal_error") else \
        ctx.get("expected_tags") if error.get("type") == "union_tag_invalid" else None
    if not isinstance(raw, str):
        return None
    values = re.findall(r"'((?:[^'\\]|\\.)*)'", raw) or [v.strip() for v in raw.split(",")]
    return [normalize(v) for v in values if v]


def canonical_openapi(doc: dict) -> dict:
    """The OpenAPI document as the API speaks: enum defaults spelled canonically, and no component
    schema that nothing refers to (FastAPI also emits the domain enums an ``api_enum`` replaced)."""
    fix_openapi_defaults(doc)
    schemas = doc.get("components", {}).get("schemas", {})
    reached: set[str] = set()
    todo = [{k: v for k, v in doc.items() if k != "components"}]
    while todo:
        for name in re.findall(r"#/components/schemas/([^\"']+)", repr(todo.pop())):
            if name not in reached and name in schemas:
                reached.add(name)
                todo.append(schemas[name])
    for name in [n for n in schemas if n not in reached]:
        del schemas[name]
    return doc


def fix_openapi_defaults(node: Any) -> Any:
    """Spell the default of every enum schema canonically (a parameter's default is the domain value
    the handler receives, e.g. ``"desc"``; the document shows ``"DESC"``). Mutates and returns ``node``."""
    if isinstance(node, dict):
        enum_values = node.get("enum") or [v for alt in node.get("anyOf", []) if isinstance(alt, dict)
                                           for v in alt.get("enum", [])]
        if enum_values and isinstance(node.get("default"), str) and node["default"] not in enum_values:
            if normalize(node["default"]) in enum_values:
                node["default"] = normalize(node["default"])
        for v in node.values():
            fix_openapi_defaults(v)
    elif isinstance(node, list):
        for v in node:
            fix_openapi_defaults(v)
    return node
