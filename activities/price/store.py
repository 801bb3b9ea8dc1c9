"""Price persistence: the price in force, one history row and one event per change.

``record_observation`` runs in the caller's transaction with the single ``price_latest`` row locked,
so concurrent feed runs or an operator's manual price serialize; an observation older than the one
stored (a retried or late activity) changes nothing. A change also appends a ``price_updated`` event
(entity ``btc_price``/``BTCUSD``, sequence = ``price_latest.version``) and sends ``NOTIFY
lana_price_updated`` on commit: the published "price changed" fact for later consumers.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    SmallInteger,
    String,
    Table,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from domain.price.model import CurrentPrice, NoPrice, PriceQuote, PriceTick, ensure_fresh

PRICE_ENTITY = ("btc_price", "BTCUSD")
NOTIFY_CHANNEL = "lana_price_updated"

metadata = MetaData()
price_latest = Table(
    "price_latest", metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("usd_cents_per_btc", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
)
price_history = Table(
    "price_history", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("usd_cents_per_btc", BigInteger, nullable=False),
    Column("previous_cents", BigInteger),
    Column("source", String(16), nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True)),
)
price_manual = Table(
    "price_manual", metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("usd_cents_per_btc", BigInteger, nullable=False),
    Column("set_by", String(128), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)


_LATEST = select(price_latest).where(price_latest.c.id == 1)


async def latest_price(conn: AsyncConnection) -> CurrentPrice | None:
    row = (await conn.execute(_LATEST)).first()
    if row is None:
        return None
    return CurrentPrice(usd_cents_per_btc=row.usd_cents_per_btc, source=row.source,
                        observed_at=row.observed_at, changed_at=row.changed_at)


async def current_price(conn: AsyncConnection, now: datetime, max_age: timedelta) -> CurrentPrice:
    """The price to use for a decision at ``now``; ``price.no_price`` / ``price.stale_price`` otherwise."""
    price = await latest_price(conn)
    if price is None:
        raise NoPrice("No BTC price has been recorded yet.")
    return ensure_fresh(price, now, max_age)


async def _locked_row(conn: AsyncConnection):
    return (await conn.execute(select(price_latest).where(price_latest.c.id == 1).with_for_update())).first()


async def record_observation(conn: AsyncConnection, quote: PriceQuote) -> PriceTick:
    row = await _locked_row(conn)
    if row is None:
        try:
            async with conn.begin_nested():
                await conn.execute(insert(price_latest).values(
                    id=1, usd_cents_per_btc=quote.usd_cents_per_btc, source=quote.source.value,
                    observed_at=quote.observed_at, changed_at=quote.observed_at, version=1))
        except IntegrityError:  # a concurrent first observation won: treat ours as a later one
            row = await _locked_row(conn)
        else:
            await _publish(conn, quote, None, 0)
            return PriceTick(status="recorded", changed=True, usd_cents_per_btc=quote.usd_cents_per_btc,
                             observed_at=quote.observed_at)
    if quote.observed_at <= row.observed_at:
        return PriceTick(status="ignored", usd_cents_per_btc=row.usd_cents_per_btc, observed_at=row.observed_at)
    changed = quote.usd_cents_per_btc != row.usd_cents_per_btc
    await conn.execute(price_latest.update().where(price_latest.c.id == 1).values(
        usd_cents_per_btc=quote.usd_cents_per_btc, source=quote.source.value, observed_at=quote.observed_at,
        changed_at=quote.observed_at if changed else row.changed_at,
        version=row.version + 1 if changed else row.version))
    if changed:
        await _publish(conn, quote, row.usd_cents_per_btc, row.version)
    return PriceTick(status="recorded", changed=changed, usd_cents_per_btc=quote.usd_cents_per_btc,
                     previous_cents=row.usd_cents_per_btc, observed_at=quote.observed_at)


async def _publish(conn: AsyncConnection, quote: PriceQuote, previous: int | None, version: int) -> None:
    payload = {"usd_cents_per_btc": quote.usd_cents_per_btc, "previous_cents": previous,
               "source": quote.source.value, "observed_at": quote.observed_at.isoformat()}
    await conn.execute(insert(price_history).values(
        usd_cents_per_btc=quote.usd_cents_per_btc, previous_cents=previous, source=quote.source.value,
        observed_at=quote.observed_at))
    await event_store.append(conn, *PRICE_ENTITY, version, [("price_updated", payload)])
    await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                       {"channel": NOTIFY_CHANNEL, "payload": json.dumps(payload)})


async def set_manual_price(conn: AsyncConnection, cents: int, actor: str, now: datetime) -> None:
    stmt = text("INSERT INTO price_manual (id, usd_cents_per_btc, set_by, set_at) VALUES (1, :c, :a, :t) "
                "ON CONFLICT (id) DO UPDATE SET usd_cents_per_btc = :c, set_by = :a, set_at = :t")
    await conn.execute(stmt, {"c": cents, "a": actor, "t": now})


async def manual_price(conn: AsyncConnection) -> int | None:
    return (await conn.execute(select(price_manual.c.usd_cents_per_btc).where(price_manual.c.id == 1))
            ).scalar_one_or_none()


async def history(conn: AsyncConnection, limit: int = 100) -> list:
    return (await conn.execute(select(price_history).order_by(price_history.c.id.desc()).limit(limit))).all()
