"""Bitfinex public ticker adapter (custody-price-reports.md §3.2).

``GET {base}/v2/ticker/tBTCUSD`` answers ``[BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE,
DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME, HIGH, LOW]``; the bank uses index 6, ``LAST_PRICE``.
The body is parsed with Decimal (never float) and the dollar price is rounded **down** to whole
cents (explicit, conservative for collateral valuation; lana instead fails on > 2 dp).
Errors come as ``["error", CODE, "description"]``: 10020 ⇒ request parameters error.
"""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, Decimal, InvalidOperation

import httpx

from domain.price.model import PriceProviderError

DEFAULT_BASE_URL = "https://api-pub.bitfinex.com"
TICKER_PATH = "/v2/ticker/tBTCUSD"
LAST_PRICE_INDEX = 6


class BitfinexError(PriceProviderError):
    def __init__(self, detail: str, *, retryable: bool) -> None:
        super().__init__(detail, provider="bitfinex")
        self.retryable = retryable


def dollars_to_cents_round_down(dollars: Decimal) -> int:
    return int((dollars * 100).to_integral_value(rounding=ROUND_DOWN))


def parse_ticker(body: str) -> int:
    """Ticker body → last price in integer USD cents per BTC."""
    try:
        data = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except ValueError as exc:
        raise BitfinexError(f"Bitfinex answered non-JSON: {body[:200]!r}", retryable=True) from exc
    if isinstance(data, list) and data and data[0] == "error":
        code = int(data[1]) if len(data) > 1 and isinstance(data[1], Decimal) else None
        kind = "RequestParametersError" if code == 10020 else "UnexpectedResponse"
        raise BitfinexError(f"Bitfinex {kind} {code}: {data[2] if len(data) > 2 else ''}", retryable=code != 10020)
    if not isinstance(data, list) or len(data) <= LAST_PRICE_INDEX:
        raise BitfinexError(f"Unexpected Bitfinex ticker shape: {body[:200]!r}", retryable=True)
    last = data[LAST_PRICE_INDEX]
    try:
        cents = dollars_to_cents_round_down(Decimal(last))
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise BitfinexError(f"Bitfinex LAST_PRICE is not a number: {last!r}", retryable=True) from exc
    if cents <= 0:
        raise BitfinexError(f"Bitfinex LAST_PRICE is not positive: {last}", retryable=True)
    return cents


class BitfinexClient:
    def __init__(self, base_url: str = DEFAULT_BASE_URL, *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout,
                                       headers={"accept": "application/json"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def last_price_cents(self) -> int:
        try:
            response = await self._http.get(TICKER_PATH)
        except httpx.HTTPError as exc:
            raise BitfinexError(f"Bitfinex unreachable: {exc!r}", retryable=True) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise BitfinexError(f"Bitfinex answered {response.status_code}", retryable=True)
        return parse_ticker(response.text)
