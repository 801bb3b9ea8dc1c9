"""End-of-day step ``mature_facilities`` (credit.md §10; contract: ``domain.credit.end_of_day``;
how a page runs: ``batch.py``).

Selects the active facilities whose maturity date is on or before D (keyset on the id, rows
locked: the facility workflow's steps lock the same row) and matures them: event
``facility_matured`` on the facility's stream and status ``Matured`` on its row. Nothing is posted:
the principal falls due through its obligation (its due date is the maturity date) and the last
cycle already ended on the maturity date. The facility hears ``matured``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.credit import store
from activities.credit.batch import Item, Plan, decide, key_in, keyset_keys, nth_key
from activities.credit.tables import facilities
from domain.credit.end_of_day import FacilityEvent, FacilityEventKind
from domain.credit.status import FacilityStatus, Stage

F = facilities


def _due(business_date: date):
    return lambda t: [t.c.stage == Stage.ACTIVE.value, t.c.status == FacilityStatus.ACTIVE.value,
                      t.c.maturity_date <= business_date]


async def maturities_end(conn: AsyncConnection, business_date: date, after: str | None, limit: int) -> str | None:
    return await nth_key(conn, F, "id", _due(business_date), after, limit)


async def plan_maturities(conn: AsyncConnection, business_date: date, after: str | None, limit: int,
                          until: str | None = None) -> Plan:
    due = _due(business_date)
    keys = await keyset_keys(conn, F, "id", due, after, limit, until)
    rows = (await conn.execute(select(F).where(key_in(F.c.id, keys), *due(F)).order_by(F.c.id)
                               .with_for_update())).all() if keys else []
    plan = Plan([], [], keys[-1] if keys else None, len(keys))

    def one(r) -> Item | None:
        f = store.facility_from_row(r)
        return Item(f.id, [], f) if f.mature(business_date) else None

    for r in rows:
        decide(plan, str(r.id), lambda r=r: one(r))
    return plan


async def persist_maturities(conn: AsyncConnection, business_date: date, items: list[Item]) -> list[FacilityEvent]:
    await store.save_facilities(conn, [it.decision for it in items])
    return [FacilityEvent(facility_id=it.entity_id, kind=FacilityEventKind.MATURED, business_date=business_date,
                          detail={"maturity_date": str(it.decision.state.maturity_date)}) for it in items]
