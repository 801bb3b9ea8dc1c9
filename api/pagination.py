"""Cursor pagination (api-surface §0): ``?first=&after=`` → ``{"items": [...], "next_cursor"}``.

The one helper for every list: ``cursor_after`` turns ``after`` into typed key values (or 422
``common.invalid_cursor``), ``page_from`` cuts the fetched rows and makes the next cursor, and
``keyset_page`` does both around a ``(created_at, id)`` SQLAlchemy query (``page_of``: over a
whole table with exact-match filters).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import bindparam, select, tuple_

from domain.errors import ValidationFailed

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    first: int = 25
    after: str | None = None


async def page_params(
    first: Annotated[int, Query(ge=1, le=100, description="Page size (max 100)")] = 25,
    after: Annotated[str | None, Query(max_length=512, description="Cursor from the previous page")] = None,
) -> PageParams:
    return PageParams(first=first, after=after)


KeyType = type  # one of datetime, uuid.UUID, int, str
_INT64 = (-(2**63), 2**63 - 1)


def _invalid() -> ValidationFailed:
    return ValidationFailed("Invalid pagination cursor: pass next_cursor from the previous page unchanged.",
                            code="common.invalid_cursor")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([_jsonable(v) for v in values]).encode()).decode()


def _parse(value: Any, kind: KeyType) -> Any:
    if kind is int:
        if type(value) is not int or not _INT64[0] <= value <= _INT64[1]:
            raise ValueError("not a 64-bit integer")
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a string PostgreSQL can compare")
    if kind is str:
        return value
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise TypeError(f"unsupported cursor key type {kind!r}")


def cursor_after(page: PageParams, *types: KeyType) -> tuple | None:
    """The previous page's last key, one value per type in ``types`` (``datetime``, ``uuid.UUID``,
    ``int``, ``str``), or None on the first page. Any cursor this API did not make (bad base64,
    not a JSON list, wrong length, a value of the wrong type or out of range) is 422
    ``common.invalid_cursor``: it never reaches the database."""
    if page.after is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(page.after.encode()))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong shape")
        return tuple(_parse(v, t) for v, t in zip(values, types, strict=True))
    except (binascii.Error, ValueError, UnicodeDecodeError, OverflowError, RecursionError) as exc:
        raise _invalid() from exc


def page_from(rows: Sequence[Any], page: PageParams, key: Callable[[Any], Sequence[Any]],
              to_item: Callable[[Any], Any] = lambda r: r) -> Page:
    """The page for ``rows`` fetched with ``LIMIT first + 1`` past the cursor: the first ``first``
    items, and a cursor made of the last one's ``key`` when there is more."""
    kept = rows[: page.first]
    next_cursor = encode_cursor(key(kept[-1])) if len(rows) > page.first and kept else None
    return Page(items=[to_item(r) for r in kept], next_cursor=next_cursor)


def entry_key(row) -> tuple:
    """The cursor key of a ledger entry listing: ``(recorded_at, transaction_id, sequence)``."""
    return row["recorded_at"], row["transaction_id"], row["sequence"]


async def keyset_page(conn, query, table, page: PageParams, to_item, *, direction: str = "desc") -> Page:
    """One page of ``query`` (a SQLAlchemy select over ``table``) by ``(created_at, id)``.

    The cursor carries the last row's key, so pages stay stable while rows are inserted.
    """
    key = tuple_(table.c.created_at, table.c.id)
    after = cursor_after(page, datetime, uuid.UUID)
    if after:
        last_id = after[1] if getattr(table.c.id.type, "as_uuid", True) else str(after[1])  # as_uuid=False binds str
        bound = tuple_(after[0], bindparam(None, last_id, type_=table.c.id.type))
        query = query.where(key < bound if direction == "desc" else key > bound)
    order = (table.c.created_at.desc(), table.c.id.desc()) if direction == "desc" else \
        (table.c.created_at.asc(), table.c.id.asc())
    rows = (await conn.execute(query.order_by(*order).limit(page.first + 1))).all()
    return page_from(rows, page, lambda r: (r.created_at, r.id), to_item)


async def page_of(conn, table, page: PageParams, to_item, filters: dict[str, Any], direction: str = "desc") -> Page:
    """``keyset_page`` over a whole read-model table with exact-match ``filters`` (None: no filter;
    enums match by value)."""
    query = select(table)
    for name, value in filters.items():
        if value is not None:
            query = query.where(table.c[name] == (value.value if hasattr(value, "value") else str(value)))
    return await keyset_page(conn, query, table, page, to_item, direction=direction)
