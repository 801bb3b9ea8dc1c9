"""Price feed activities: fetch from the configured source, record the observation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.price import store
from activities.price.bitfinex import BitfinexClient, BitfinexError
from domain.price.model import NoPrice, PriceQuote, PriceSource, PriceTick
from ground.settings import Settings

PROVIDER_HINT = ("without a network, set LANA_PRICE_SOURCE=manual and PUT /api/v1/price "
                 "(or LANA_PRICE_SOURCE=fixed with LANA_PRICE_FIXED_USD_CENTS_PER_BTC)")
MANUAL_HINT = "set a price with PUT /api/v1/price"


def expected_failure(detail: str, code: str, *, retryable: bool, hint: str) -> ApplicationError:
    """A provider failure the feed expects (network down, provider error, no manual price yet).

    BENIGN: the SDK logs such an activity failure at DEBUG, without a traceback; the feed workflow
    logs one line per run with this message (cause and hint). Anything else keeps its traceback.
    """
    return ApplicationError(f"{detail} (hint: {hint})", type=code, non_retryable=not retryable,
                            category=ApplicationErrorCategory.BENIGN)


class PriceActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings, bitfinex: BitfinexClient) -> None:
        self.engine = engine
        self.source = PriceSource(settings.price_source)
        self.fixed_cents = settings.price_fixed_usd_cents_per_btc
        self.bitfinex = bitfinex

    @activity.defn(name="price.fetch_btc_price")
    async def fetch_btc_price(self) -> PriceQuote:
        observed_at = datetime.now(UTC)
        try:
            cents = await self._fetch()
        except BitfinexError as exc:
            raise expected_failure(exc.detail, exc.code, retryable=exc.retryable, hint=PROVIDER_HINT) from None
        except NoPrice as exc:
            raise expected_failure(exc.detail, exc.code, retryable=False, hint=MANUAL_HINT) from None
        return PriceQuote(usd_cents_per_btc=cents, source=self.source, observed_at=observed_at)

    async def _fetch(self) -> int:
        if self.source is PriceSource.BITFINEX:
            return await self.bitfinex.last_price_cents()
        if self.source is PriceSource.FIXED:
            if self.fixed_cents <= 0:
                raise NoPrice("LANA_PRICE_FIXED_USD_CENTS_PER_BTC must be a positive number of cents.")
            return self.fixed_cents
        async with self.engine.connect() as conn:
            cents = await store.manual_price(conn)
        if cents is None:
            raise NoPrice("No manual price has been set (PUT /api/v1/price).")
        return cents

    @activity.defn(name="price.record_btc_price")
    async def record_btc_price(self, quote: PriceQuote) -> PriceTick:
        async with self.engine.begin() as conn:
            return await store.record_observation(conn, quote)
