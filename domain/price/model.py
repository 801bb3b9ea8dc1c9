"""The BTC price the bank uses: integer USD cents per whole BTC, observed at a UTC instant.

Staleness (spec rule of this project, stricter than lana which never checks the timestamp): a
price whose last confirmation by the feed is older than ``max_age`` is stale and must not be used
for collateral decisions; ``ensure_fresh`` raises ``price.stale_price`` instead of returning it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.errors import Conflict, ServiceUnavailable, ValidationFailed, register


class PriceSource(StrEnum):
    BITFINEX = "bitfinex"
    FIXED = "fixed"
    MANUAL = "manual"


class PriceQuote(BaseModel):
    """One observation from the configured source."""

    usd_cents_per_btc: int = Field(gt=0)
    source: PriceSource
    observed_at: datetime


class PriceFeedInput(BaseModel):
    """Input of one feed run: empty for a scheduled run (the source comes from settings); an
    operator's manual price arrives as ``quote`` and is recorded as is (no fetch), through the same
    record → re-evaluate path as every other price."""

    note: str = ""
    quote: PriceQuote | None = None


class PriceTick(BaseModel):
    """What one feed run did: ``recorded`` (changed or confirmed), ``ignored`` (older than the
    stored observation) or ``fetch_failed`` (provider unavailable; the last price stays)."""

    status: str
    changed: bool = False
    usd_cents_per_btc: int | None = None
    previous_cents: int | None = None
    observed_at: datetime | None = None
    error: str | None = None
    signalled: list[str] = Field(default_factory=list)  # facilities signalled (the first 100)
    state_changes: int = 0  # active facilities whose collateralization state the price changed
    activations: int = 0  # pending facilities signalled to activate
    signals: int = 0  # signals delivered


class PriceChanged(BaseModel):
    """Signal ``price_changed`` to a facility workflow: re-evaluate at this price observation."""

    usd_cents_per_btc: int = Field(gt=0)
    observed_at: datetime


class CurrentPrice(BaseModel):
    usd_cents_per_btc: int
    source: PriceSource
    observed_at: datetime
    changed_at: datetime


def is_stale(observed_at: datetime, now: datetime, max_age: timedelta) -> bool:
    return now - observed_at > max_age


@register
class NoPrice(ServiceUnavailable):
    """503 for the API (repeat once the feed is back), but a refusal for the step that met it: a
    command is not retried until the feed returns, the operator repeats it."""

    code = "price.no_price"
    title = "No BTC price available"
    transient = False


@register
class StalePrice(ServiceUnavailable):
    """As ``NoPrice``: 503 for the API, a refusal (never retried) for the step."""

    code = "price.stale_price"
    title = "BTC price is stale"
    transient = False


@register
class PriceProviderError(ServiceUnavailable):
    code = "price.provider_error"
    title = "Price provider failed"


@register
class ManualPriceDisabled(Conflict):
    code = "price.manual_price_disabled"
    title = "Manual price is not the configured source"


@register
class InvalidPrice(ValidationFailed):
    code = "price.invalid_price"
    title = "Invalid price"


def ensure_fresh(price: CurrentPrice, now: datetime, max_age: timedelta) -> CurrentPrice:
    if is_stale(price.observed_at, now, max_age):
        age = int((now - price.observed_at).total_seconds())
        raise StalePrice(f"The BTC price was last confirmed {age} s ago (maximum {int(max_age.total_seconds())} s).",
                         observed_at=price.observed_at.isoformat(), age_seconds=age)
    return price
