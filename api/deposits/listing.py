"""Filtered keyset pages over a deposit read-model table (``(created_at, id)``, newest first)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.pagination import Page, PageParams, keyset_page


async def page_of(conn: AsyncConnection, table: Table, page: PageParams, to_out: Callable[[Any], Any],
                  filters: dict[str, Any], direction: str = "desc") -> Page:
    query = select(table)
    for name, value in filters.items():
        if value is not None:
            query = query.where(table.c[name] == (value.value if hasattr(value, "value") else str(value)))
    return await keyset_page(conn, query, table, page, to_out, direction=direction)
