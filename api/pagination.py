"""Cursor pagination (api-surface §0): ``?first=&after=`` → ``{"items": [...], "next_cursor"}``."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import bindparam, tuple_

from domain.errors import ValidationFailed

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    first: int = 25
    after: str | None = None


def page_params(
    first: Annotated[int, Query(ge=1, le=100, description="Page size (max 100)")] = 25,
    after: Annotated[str | None, Query(max_length=512, description="Cursor from the previous page")] = None,
) -> PageParams:
    return PageParams(first=first, after=after)


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("Invalid pagination cursor.", code="common.invalid_cursor") from exc
    if not isinstance(values, list):
        raise ValidationFailed("Invalid pagination cursor.", code="common.invalid_cursor")
    return values


async def keyset_page(conn, query, table, page: PageParams, to_item, *, direction: str = "desc") -> Page:
    """One page of ``query`` (a SQLAlchemy select over ``table``) by ``(created_at, id)``.

    The cursor carries the last row's key, so pages stay stable while rows are inserted.
    """
    key = tuple_(table.c.created_at, table.c.id)
    cursor = decode_cursor(page.after)
    if cursor:
        try:
            last_id = uuid.UUID(str(cursor[1]))
            if not getattr(table.c.id.type, "as_uuid", True):
                last_id = str(last_id)  # UUID(as_uuid=False) columns bind strings
            after = tuple_(datetime.fromisoformat(cursor[0]), bindparam(None, last_id, type_=table.c.id.type))
        except (ValueError, IndexError, TypeError) as exc:
            raise ValidationFailed("Invalid pagination cursor.", code="common.invalid_cursor") from exc
        query = query.where(key < after if direction == "desc" else key > after)
    order = (table.c.created_at.desc(), table.c.id.desc()) if direction == "desc" else \
        (table.c.created_at.asc(), table.c.id.asc())
    rows = (await conn.execute(query.order_by(*order).limit(page.first + 1))).all()
    items = [to_item(r) for r in rows[: page.first]]
    next_cursor = None
    if len(rows) > page.first:
        last = rows[page.first - 1]
        next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return Page(items=items, next_cursor=next_cursor)
