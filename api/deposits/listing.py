"""Keyset pagination over a deposit read-model table: ``(created_at, id)``, newest first by default."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from api.pagination import Page, PageParams, decode_cursor, encode_cursor
from domain.errors import ValidationFailed


async def page_of(conn: AsyncConnection, table: Table, page: PageParams, to_out: Callable[[Any], Any],
                  filters: dict[str, Any], direction: str = "desc") -> Page:
    query = select(table)
    for name, value in filters.items():
        if value is not None:
            query = query.where(table.c[name] == (value.value if hasattr(value, "value") else str(value)))
    key = tuple_(table.c.created_at, table.c.id)
    cursor = decode_cursor(page.after)
    if cursor:
        try:
            after = tuple_(datetime.fromisoformat(cursor[0]), str(uuid.UUID(cursor[1])))
        except (ValueError, IndexError, TypeError) as exc:
            raise ValidationFailed("Invalid pagination cursor.", code="common.invalid_cursor") from exc
        query = query.where(key < after if direction == "desc" else key > after)
    order = (table.c.created_at.desc(), table.c.id.desc()) if direction == "desc" else \
        (table.c.created_at.asc(), table.c.id.asc())
    rows = (await conn.execute(query.order_by(*order).limit(page.first + 1))).all()
    items = [to_out(r) for r in rows[: page.first]]
    nxt = None
    if len(rows) > page.first:
        last = rows[page.first - 1]
        nxt = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return Page(items=items, next_cursor=nxt)
