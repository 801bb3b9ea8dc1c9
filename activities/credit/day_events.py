"""The end-of-day outbox (migration 0061): a page's facility events are stored in the page's own
transaction; the step activity reads what is undelivered for its date and step, signals it and
marks it delivered. A crash between the commit and the signals loses nothing (the retried attempt
finds the events still undelivered); a crash between the signals and the mark sends them again,
which the facility workflow's handler absorbs (events are at-least-once and idempotent).
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.credit.end_of_day import FacilityEvent, Step

BATCH = 1000


async def store(conn: AsyncConnection, step: Step, events: list[FacilityEvent]) -> None:
    """Append the page's events, in the caller's (the page's) transaction."""
    if not events:
        return
    await conn.execute(text(
        "INSERT INTO end_of_day_events (business_date, step, facility_id, kind, detail)"
        " SELECT d, :step, f, k, CAST(x AS jsonb) FROM unnest(CAST(:d AS date[]), CAST(:f AS text[]),"
        " CAST(:k AS text[]), CAST(:x AS text[])) AS e(d, f, k, x)"),
        {"step": Step(step).value, "d": [e.business_date for e in events], "f": [e.facility_id for e in events],
         "k": [e.kind.value for e in events], "x": [json.dumps(e.detail) for e in events]})


async def undelivered(engine: AsyncEngine, business_date: date, step: Step,
                      limit: int = BATCH) -> list[tuple[int, FacilityEvent]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT id, facility_id, kind, detail FROM end_of_day_events WHERE business_date = :d"
            " AND step = :s AND delivered_at IS NULL ORDER BY id LIMIT :n"),
            {"d": business_date, "s": Step(step).value, "n": limit})
        return [(r.id, FacilityEvent(facility_id=r.facility_id, kind=r.kind, business_date=business_date,
                                     detail=r.detail)) for r in rows]


async def mark_delivered(engine: AsyncEngine, ids: list[int]) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE end_of_day_events SET delivered_at = now() WHERE id = ANY(:ids)"),
                           {"ids": ids})
