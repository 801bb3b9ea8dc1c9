"""Bitfinex ticker parsing (custody-price-reports.md §3.2): Decimal, never float; explicit rounding."""

import httpx
import pytest

from activities.price.bitfinex import BitfinexClient, BitfinexError, parse_ticker
from domain.price.model import PriceProviderError


def test_spec_example():
    assert parse_ticker("[16808,24.1,16809,55.3,-26,-0.0015,16809,147.2,16884,16769]") == 1_680_900


@pytest.mark.parametrize(("last", "cents"), [
    ("67234.5", 6_723_450), ("67234.567", 6_723_456), ("67234.569999", 6_723_456),
    ("0.1", 10), ("1e5", 10_000_000), ("97000.01", 9_700_001)])
def test_last_price_rounds_down_to_whole_cents(last, cents):
    assert parse_ticker(f"[1,1,1,1,0,0,{last},1,1,1]") == cents


@pytest.mark.parametrize(("body", "retryable"), [
    ('["error",10020,"symbol: invalid"]', False),
    ('["error",11010,"ratelimit: error"]', True),
    ("<html>bad gateway</html>", True),
    ("[1,2,3]", True),
    ('[1,1,1,1,0,0,"x",1,1,1]', True),
    ("[1,1,1,1,0,0,0.001,1,1,1]", True),  # rounds to 0 cents
    ("[1,1,1,1,0,0,-5,1,1,1]", True),
])
def test_bad_bodies_fail_with_a_provider_error(body, retryable):
    with pytest.raises(BitfinexError) as info:
        parse_ticker(body)
    assert isinstance(info.value, PriceProviderError) and info.value.code == "price.provider_error"
    assert info.value.retryable is retryable


async def test_client_over_mock_transport():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="[1,1,1,1,0,0,70000,1,1,1]")

    client = BitfinexClient("https://bfx.test", transport=httpx.MockTransport(handler))
    assert await client.last_price_cents() == 7_000_000
    assert str(seen[0].url) == "https://bfx.test/v2/ticker/tBTCUSD"
    assert seen[0].headers["accept"] == "application/json"

    client = BitfinexClient("https://bfx.test", transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    with pytest.raises(BitfinexError) as info:
        await client.last_price_cents()
    assert info.value.retryable
    await client.aclose()
