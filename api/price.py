"""BTC price (api-surface §10 P1 plus this project's manual source): current price, history, set.

Permissions: lana's ``realtimePrice`` needs none beyond being an operator, but every route here must
declare a catalogue permission, so reads use ``price:provider:list`` and setting the manual price
``price:provider:update``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from activities.price import store
from api.authz import Principal, require
from api.deps import EngineDep, ReadConn, TemporalDep
from api.enums import ApiEnum
from api.workflow_calls import call
from domain.price.model import CurrentPrice, ManualPriceDisabled, NoPrice, PriceQuote, PriceSource, is_stale
from workflows.price_feed import record_manual_price

router = APIRouter(tags=["price"])


class PriceOut(BaseModel):
    usd_cents_per_btc: int
    source: ApiEnum[PriceSource]
    observed_at: datetime
    changed_at: datetime
    age_seconds: int
    stale: bool
    max_age_seconds: int

    @classmethod
    def build(cls, price: CurrentPrice, now: datetime, max_age: int) -> PriceOut:
        return cls(**price.model_dump(), age_seconds=int((now - price.observed_at).total_seconds()),
                   stale=is_stale(price.observed_at, now, timedelta(seconds=max_age)), max_age_seconds=max_age)


class PriceChangeOut(BaseModel):
    usd_cents_per_btc: int
    previous_cents: int | None
    source: ApiEnum[PriceSource]
    observed_at: datetime


class ManualPriceIn(BaseModel):
    usd_cents_per_btc: int = Field(gt=0, le=10**12, description="USD cents per whole BTC")


@router.get("/price", response_model=PriceOut, summary="Current BTC price, its age and whether it is stale",
            responses={503: {"description": "No price recorded yet (`price.no_price`)"}})
async def get_price(request: Request, conn: ReadConn,
                    principal: Principal = require("price:provider:list")) -> PriceOut:
    return await current_price(conn, request.app.state.settings.price_max_age_seconds)


async def current_price(conn, max_age_seconds: int) -> PriceOut:
    """The latest BTC price, or 503 ``price.no_price`` (also read by the customer portal)."""
    price = await store.latest_price(conn)
    if price is None:
        raise NoPrice("No BTC price has been recorded yet.")
    return PriceOut.build(price, datetime.now(UTC), max_age_seconds)


@router.get("/price/history", response_model=list[PriceChangeOut], summary="Latest price changes, newest first")
async def price_history(conn: ReadConn, limit: Annotated[int, Query(ge=1, le=100)] = 25,
                        principal: Principal = require("price:provider:list")) -> list[PriceChangeOut]:
    return [PriceChangeOut(usd_cents_per_btc=r.usd_cents_per_btc, previous_cents=r.previous_cents,
                           source=r.source, observed_at=r.observed_at) for r in await store.history(conn, limit)]


@router.put("/price", response_model=PriceOut, summary="Set the BTC price (only with LANA_PRICE_SOURCE=manual)",
            responses={503: {"description": "No worker recorded it in time (`common.unavailable`, Retry-After)"}})
async def set_price(body: ManualPriceIn, request: Request, engine: EngineDep, temporal: TemporalDep,
                    principal: Principal = require("price:provider:update")) -> PriceOut:
    """The operator's price is stored (the feed re-confirms it on every tick), then recorded by the
    ``PriceFeedWorkflow`` with this observation as input, like any other price: a change is
    published and re-evaluates the facilities (margin calls, activations). Answers once recorded;
    503 with Retry-After when no worker did so in time (safe to repeat)."""
    settings = request.app.state.settings
    if settings.price_source != PriceSource.MANUAL.value:
        raise ManualPriceDisabled(f"The price source is {settings.price_source!r}; set LANA_PRICE_SOURCE=manual "
                                  "to set the price by hand.")
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await store.set_manual_price(conn, body.usd_cents_per_btc, principal.subject, now)
    quote = PriceQuote(usd_cents_per_btc=body.usd_cents_per_btc, source=PriceSource.MANUAL, observed_at=now)
    await call(record_manual_price(temporal, settings.temporal_task_queue, quote))
    async with engine.connect() as conn:
        price = await store.latest_price(conn)
    assert price is not None
    return PriceOut.build(price, datetime.now(UTC), settings.price_max_age_seconds)
