"""Exact conversion between major-unit decimal strings and minor units (cents, satoshis)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

DECIMALS = {"USD": 2, "BTC": 8}


def to_minor(amount: str, currency: str) -> int:
    """``"12.30"`` USD → 1230. Raises ValueError on non-decimal input or too many decimals."""
    places = DECIMALS[currency]
    try:
        d = Decimal(amount.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise ValueError(f"{amount!r} is not a decimal number") from exc
    if not d.is_finite():
        raise ValueError(f"{amount!r} is not a finite number")
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places and d != d.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(f"{amount!r} has more than {places} decimals for {currency}")
    return int(d.scaleb(places))


def to_major(units: int, currency: str) -> str:
    """1230 USD → ``"12.30"`` (exact; negative amounts keep their sign)."""
    places = DECIMALS[currency]
    return format(Decimal(units).scaleb(-places).quantize(Decimal(1).scaleb(-places)), "f")
