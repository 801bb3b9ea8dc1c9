"""Collateralization after a BTC price change (credit.md §3.4, §3.6), without one history event per
facility per tick (docs/architecture.md, "Cross-process reactions").

1. ``credit.facilities_crossing_thresholds`` (run by PriceFeedWorkflow when the price changed): one
   pass, page by page, over the active facilities in the read model; the pure ``cvl.reevaluate``
   decides each facility's next state at the new price, and only the ids whose state would change
   are returned (the feed then signals just those workflows).
2. ``credit.reevaluate_collateralization`` (run by the facility workflow on that signal): the same
   rule on the locked row; a changed state is recorded (history row + ``collateralization_changed``
   event) in one transaction. It is idempotent by construction: the result depends only on the
   stored state and the price applied, and ``next_state`` applied twice at one CVL equals once, so a
   replayed or retried signal records nothing. A signal overtaken by a later price change uses the
   price in force instead (the latest observation always wins, a late signal cannot undo it).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.credit.facility_store import load_state, record_collateralization, save_state
from activities.credit.tables import facilities
from activities.price.store import latest_price
from domain.credit import cvl as cvlmod
from domain.credit.facility import FacilityState, FacilityStatus, Stage
from domain.credit.terms import TermValues

PAGE_SIZE = 500


class ReevaluateInput(BaseModel):
    facility_id: str
    usd_cents_per_btc: int
    observed_at: datetime


async def recompute(conn: AsyncConnection, state: FacilityState, price: int) -> list[tuple[str, dict]]:
    """CVL at ``price``; a changed collateralization state is recorded (history row + event)."""
    if state.stage is Stage.PENDING:
        outstanding = state.amount_cents
        value = cvlmod.cvl(state.collateral_sats, outstanding, price)
        new = cvlmod.pending_state(value, state.terms)
        changed = new != state.pending_collateralization
        state.pending_collateralization = new
    else:
        outstanding = state.disbursed_cents
        value, new = cvlmod.reevaluate(state.collateralization, state.collateral_sats, outstanding, price,
                                       state.terms)
        changed = new != state.collateralization
        state.collateralization = new
    state.cvl, state.price_cents = str(value), price
    if not changed:
        return []
    payload = await record_collateralization(conn, state, state_value=new.value, cvl=str(value),
                                             outstanding_cents=outstanding, price_cents=price)
    return [("collateralization_changed", payload)]


async def crossing_ids(conn: AsyncConnection, price_cents: int, *, page_size: int = PAGE_SIZE) -> list[str]:
    """Ids of the active facilities whose collateralization state changes at ``price_cents``."""
    t, after, crossing = facilities, None, []
    while True:
        query = (select(t.c.id, t.c.collateralization, t.c.collateral_sats, t.c.disbursed_cents, t.c.terms)
                 .where(t.c.stage == Stage.ACTIVE.value, t.c.status == FacilityStatus.ACTIVE.value)
                 .order_by(t.c.id).limit(page_size))
        rows = (await conn.execute(query if after is None else query.where(t.c.id > after))).all()
        for r in rows:
            previous = cvlmod.CollateralizationState(r.collateralization) if r.collateralization else None
            _, new = cvlmod.reevaluate(previous, r.collateral_sats, r.disbursed_cents, price_cents,
                                       TermValues.model_validate(r.terms))
            if new is not previous:
                crossing.append(str(r.id))
        if len(rows) < page_size:
            return crossing
        after = rows[-1].id


class CollateralizationActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn(name="credit.facilities_crossing_thresholds")
    async def facilities_crossing_thresholds(self, price_cents: int) -> list[str]:
        async with self.engine.connect() as conn:
            return await crossing_ids(conn, price_cents)

    @activity.defn(name="credit.reevaluate_collateralization")
    async def reevaluate_collateralization(self, inp: ReevaluateInput) -> FacilityState:
        async with self.engine.begin() as conn:
            state, row = await load_state(conn, inp.facility_id)
            if state.stage is not Stage.ACTIVE or state.status is not FacilityStatus.ACTIVE:
                return state
            price = inp.usd_cents_per_btc
            latest = await latest_price(conn)
            if latest is not None and latest.changed_at > inp.observed_at:
                price = latest.usd_cents_per_btc  # overtaken by a later change: the price in force wins
            events = await recompute(conn, state, price)
            if not events:
                state, _ = await load_state(conn, inp.facility_id, lock=False)
                return state  # nothing crosses: no event, no write
            events[0][1]["price_observed_at"] = inp.observed_at.isoformat()
            await save_state(conn, state, row.version, events)
            return state
