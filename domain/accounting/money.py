"""Exact conversion between major-unit decimal strings and minor units (cents, satoshis)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext

DECIMALS = {"USD": 2, "BTC": 8}
MAX_UNITS = 2**63 - 1  # the ledger stores minor units as bigint


def to_minor(amount: str, currency: str) -> int:
    """``"12.30"`` USD → 1230. Raises ValueError on non-decimal input, too many decimals, or an
    amount whose minor units do not fit a 64-bit integer (the ledger's units)."""
    places = DECIMALS[currency]
    try:
        d = Decimal(amount.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise ValueError(f"{amount!r} is not a decimal number") from exc
    if not d.is_finite():
        raise ValueError(f"{amount!r} is not a finite number")
    if d.adjusted() > 30:  # far beyond any ledger amount: refuse before computing with it
        raise ValueError(f"{amount!r} is too large for {currency}")
    with localcontext() as ctx:  # exact arithmetic whatever the number of digits given
        ctx.prec = 80
        exponent = d.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places and d != d.quantize(Decimal(1).scaleb(-places)):
            raise ValueError(f"{amount!r} has more than {places} decimals for {currency}")
        units = int(d.scaleb(places))
    if abs(units) > MAX_UNITS:
        raise ValueError(f"{amount!r} is too large for {currency}")
    return units


def to_major(units: int, currency: str) -> str:
    """1230 USD → ``"12.30"`` (exact; negative amounts keep their sign)."""
    places = DECIMALS[currency]
    return format(Decimal(units).scaleb(-places).quantize(Decimal(1).scaleb(-places)), "f")
