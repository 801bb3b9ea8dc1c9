"""Risk figures of the loan reports (pure): the rating by days past due, its reserve rate, the
reserve of an amount, and the split of a facility-level amount over its disbursals.

Ratings follow the NCB-022 bands lana's pipeline uses (days past due → category → reserve %);
reserves are rounded half up to the cent, with Decimal arithmetic only.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

# (most days past due of the band, category, reserve rate in percent)
BANDS: tuple[tuple[int | None, str, Decimal], ...] = (
    (14, "A1", Decimal("1")),
    (30, "A2", Decimal("2")),
    (60, "B", Decimal("5")),
    (90, "C1", Decimal("15")),
    (120, "C2", Decimal("25")),
    (150, "D1", Decimal("50")),
    (180, "D2", Decimal("75")),
    (None, "E", Decimal("100")),
)


def rating(days_past_due: int) -> tuple[str, Decimal]:
    """The category and reserve rate (percent) of a loan ``days_past_due`` days late (0: current)."""
    for most, category, rate in BANDS:
        if most is None or days_past_due <= most:
            return category, rate
    raise AssertionError("unreachable")  # pragma: no cover


def reserve(cents: int, rate_pct: Decimal) -> int:
    """``cents`` × ``rate_pct`` %, rounded half up to the cent (0 for nothing at risk)."""
    if cents <= 0:
        return 0
    return int((Decimal(cents) * rate_pct / Decimal(100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def collateral_value(sats: int, usd_cents_per_btc: int | None) -> int:
    """The collateral's market value in cents, rounded down (never overstated)."""
    if not sats or not usd_cents_per_btc:
        return 0
    return sats * usd_cents_per_btc // 100_000_000


def split(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` over ``weights`` in proportion (largest remainder: the parts add up to ``total``);
    equal parts when every weight is 0."""
    n = len(weights)
    if n == 0:
        return []
    w = list(weights) if any(weights) else [1] * n
    s = sum(w)
    base = [total * x // s for x in w]
    rest = total - sum(base)
    order = sorted(range(n), key=lambda i: (-(total * w[i] % s), i))
    for i in order[:rest]:
        base[i] += 1
    return base
