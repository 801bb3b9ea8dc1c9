"""Money conversions with the rounding of credit.md §0.2. Integers in, integers out.

USD is integer cents, BTC integer satoshis, a BTC price is integer cents per whole BTC
(``PriceOfOneBTC``). Every function is exact integer / Decimal arithmetic with the rounding named in
its docstring; nothing ever goes through a float.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from domain.errors import ValidationFailed, register

SATS_PER_BTC = 100_000_000
CENTS_PER_USD = 100


@register
class InexactAmount(ValidationFailed):
    code = "credit.inexact_amount"
    title = "Amount cannot be represented exactly"


def usd(cents: int) -> Decimal:
    """Cents → dollars, exact (``to_usd``)."""
    return Decimal(cents) / CENTS_PER_USD


def btc(sats: int) -> Decimal:
    """Satoshis → BTC, exact (``to_btc``)."""
    return Decimal(sats) / SATS_PER_BTC


def usd_to_cents(amount: Decimal) -> int:
    """Dollars → cents; refuses fractional cents and negatives (never rounds)."""
    cents = amount * CENTS_PER_USD
    if not amount.is_finite() or cents != cents.to_integral_value() or cents < 0:
        raise InexactAmount(f"{amount} USD is not a whole, non-negative number of cents.", field="amount")
    return int(cents)


def btc_to_sats(amount: Decimal) -> int:
    """BTC → sats; refuses fractional sats and negatives (never rounds)."""
    sats = amount * SATS_PER_BTC
    if not amount.is_finite() or sats != sats.to_integral_value() or sats < 0:
        raise InexactAmount(f"{amount} BTC is not a whole, non-negative number of sats.", field="amount")
    return int(sats)


def sats_to_cents_round_down(sats: int, price_cents: int) -> int:
    """Value of ``sats`` at ``price_cents`` per BTC, truncated to whole cents."""
    return sats * price_cents // SATS_PER_BTC


def cents_to_sats_round_up(cents: int, price_cents: int) -> int:
    """Sats worth ``cents`` at ``price_cents`` per BTC, rounded up to whole sats."""
    if price_cents <= 0:
        raise ValueError("price must be positive")
    return -(-cents * SATS_PER_BTC // price_cents)


def percent_of_cents_round_up(cents: int, pct: Decimal) -> int:
    """``cents × pct / 100`` rounded up to whole cents (the one-time fee and ``scale``).

    Exact rational arithmetic: a Decimal product would round to the context's precision (28
    significant digits) first, and a rate with many decimals could then lose its last cent.
    """
    exact = Fraction(cents) * Fraction(pct) / 100
    return -(-exact.numerator // exact.denominator)
