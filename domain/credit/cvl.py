"""Collateral value to loan (credit.md §3): CVL, collateralization states with hysteresis.

A CVL is a ``Decimal`` percentage; ``INFINITE_CVL`` (``Decimal("Infinity")``) stands for lana's
``CVLPct::Infinite`` and compares greater than every finite value, exactly as the spec requires.
The formula works in integers: with ``v`` = collateral value in cents (truncated) and ``a`` the
amount in cents, ``truncate(v / a, 2 dp) × 100 == floor(100·v / a)``, so the result is always a
whole percent and no division is ever rounded by a Decimal context.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum

from domain.credit.money import SATS_PER_BTC, sats_to_cents_round_down
from domain.credit.terms import TermValues

INFINITE_CVL = Decimal("Infinity")
ZERO_CVL = Decimal(0)
UPGRADE_BUFFER = Decimal(5)  # percentage points, CVLPct::UPGRADE_BUFFER (§3.4)
RATIO_PLACES = Decimal("1e-12")


class CollateralizationState(StrEnum):
    """Active facility (§3.3)."""

    FULLY_COLLATERALIZED = "FullyCollateralized"
    UNDER_MARGIN_CALL_THRESHOLD = "UnderMarginCallThreshold"
    UNDER_LIQUIDATION_THRESHOLD = "UnderLiquidationThreshold"
    NO_COLLATERAL = "NoCollateral"
    NO_EXPOSURE = "NoExposure"


class PendingCollateralizationState(StrEnum):
    """Pending facility (§3.5)."""

    NOT_YET_COLLATERALIZED = "NotYetCollateralized"
    UNDER_COLLATERALIZED = "UnderCollateralized"
    FULLY_COLLATERALIZED = "FullyCollateralized"


def cvl_from_value(collateral_value_cents: int, amount_cents: int) -> Decimal:
    if collateral_value_cents < 0 or amount_cents < 0:
        raise ValueError("amounts must be non-negative")
    if collateral_value_cents == 0:
        return ZERO_CVL
    if amount_cents == 0:
        return INFINITE_CVL
    return Decimal(collateral_value_cents * 100 // amount_cents)


def cvl(collateral_sats: int, amount_cents: int, price_cents: int) -> Decimal:
    """CVL of ``collateral_sats`` against ``amount_cents`` at ``price_cents`` per BTC (§3.1)."""
    return cvl_from_value(sats_to_cents_round_down(collateral_sats, price_cents), amount_cents)


def collateralization_ratio(collateral_sats: int, amount_cents: int) -> Decimal:
    """Price-independent sats per cent, only for ordering facilities; 12 dp, truncated."""
    if amount_cents == 0:
        return INFINITE_CVL
    return (Decimal(collateral_sats) / Decimal(amount_cents)).quantize(RATIO_PLACES, rounding=ROUND_DOWN)


def cvl_json(value: Decimal) -> dict:
    """API shape (api-surface §0): ``{"value": "140"}`` or ``{"infinite": true}``."""
    return {"infinite": True} if value.is_infinite() else {"value": str(value)}


def state_for_cvl(value: Decimal, terms: TermValues) -> CollateralizationState:
    """The state a CVL maps to, without history (§3.3)."""
    if value.is_infinite():
        return CollateralizationState.NO_EXPOSURE
    if value == 0:
        return CollateralizationState.NO_COLLATERAL
    if value >= terms.margin_call_cvl:
        return CollateralizationState.FULLY_COLLATERALIZED
    if value >= terms.liquidation_cvl:
        return CollateralizationState.UNDER_MARGIN_CALL_THRESHOLD
    return CollateralizationState.UNDER_LIQUIDATION_THRESHOLD


def next_state(previous: CollateralizationState, value: Decimal, terms: TermValues, *,
               buffer: Decimal = UPGRADE_BUFFER, liquidation_upgrade_blocked: bool = False,
               closed: bool = False) -> CollateralizationState:
    """The facility's new state after a recomputation (§3.4); equal to ``previous`` means no event.

    Downgrades are immediate. Leaving UnderMarginCallThreshold for FullyCollateralized needs
    ``CVL > margin_call + buffer`` (margin call 125, buffer 5: 131, not 130). Leaving
    UnderLiquidationThreshold is immediate unless ``liquidation_upgrade_blocked`` (lana never
    blocks). A closed facility is always NoCollateral.
    """
    if closed:
        return CollateralizationState.NO_COLLATERAL
    computed = state_for_cvl(value, terms)
    if computed == previous:
        return previous
    if previous is CollateralizationState.UNDER_LIQUIDATION_THRESHOLD:
        return previous if liquidation_upgrade_blocked else computed
    if (previous is CollateralizationState.UNDER_MARGIN_CALL_THRESHOLD
            and computed is CollateralizationState.FULLY_COLLATERALIZED
            and not value > terms.margin_call_cvl + buffer):
        return previous
    return computed


def reevaluate(previous: CollateralizationState | None, collateral_sats: int, outstanding_cents: int,
               price_cents: int, terms: TermValues) -> tuple[Decimal, CollateralizationState]:
    """An active facility at ``price_cents`` (§3.6): its CVL against the outstanding amount and the
    state ``next_state`` gives from ``previous`` (none yet: the plain mapping). Pure, so the batch
    pass over the read model and the per-facility recomputation always agree."""
    value = cvl(collateral_sats, outstanding_cents, price_cents)
    if previous is None:
        return value, state_for_cvl(value, terms)
    return value, next_state(previous, value, terms)


def activation_cvl_threshold(terms: TermValues) -> Decimal:
    """The CVL (against the facility amount) at which a pending facility activates: ``initial_cvl``.

    This is the product brief's rule and lana's documentation ("CVL >= initial_cvl"). lana's
    executed code uses ``margin_call_cvl`` instead (credit.md §4.4, §15 #1); the one place to switch
    is here. UIs ask the customer for ``terms.required_collateral_sats`` (also ``initial_cvl``).
    """
    return terms.initial_cvl


def pending_state(value: Decimal, terms: TermValues) -> PendingCollateralizationState:
    """Pending facility (§3.5): FullyCollateralized exactly when it may activate; no hysteresis.

    The spec compares with ``margin_call_cvl``; this project uses ``activation_cvl_threshold`` so
    "fully collateralized" and "can activate" never disagree.
    """
    if value >= activation_cvl_threshold(terms):
        return PendingCollateralizationState.FULLY_COLLATERALIZED
    return PendingCollateralizationState.UNDER_COLLATERALIZED


def may_activate(collateral_sats: int, facility_amount_cents: int, price_cents: int, terms: TermValues) -> bool:
    return cvl(collateral_sats, facility_amount_cents, price_cents) >= activation_cvl_threshold(terms)


# --- total outstanding and trigger prices (issue 18 items 2 and 6) --------------------------------
def total_outstanding(*, principal_not_yet_due: int = 0, principal_due: int = 0, principal_overdue: int = 0,
                      interest_not_yet_due: int = 0, interest_due: int = 0, interest_overdue: int = 0) -> int:
    """The amount an active facility's CVL is measured against (§3.1): not-yet-due, due and overdue
    principal and **posted** interest. Defaulted balances and interest accrued but not yet posted
    are not part of it (they are not arguments)."""
    parts = (principal_not_yet_due, principal_due, principal_overdue, interest_not_yet_due, interest_due,
             interest_overdue)
    if any(p < 0 for p in parts):
        raise ValueError("outstanding balances must be non-negative")
    return sum(parts)


def _percent_at_least(threshold: Decimal) -> int:
    """The least whole CVL that is ``>= threshold`` (a CVL is always a whole percent)."""
    return int(threshold.to_integral_value(rounding=ROUND_CEILING))


def _percent_above(threshold: Decimal) -> int:
    """The least whole CVL that is ``> threshold``."""
    return int(threshold.to_integral_value(rounding=ROUND_FLOOR)) + 1


def price_for_cvl(percent: int, collateral_sats: int, amount_cents: int) -> int | None:
    """The lowest price (cents per BTC) at which ``cvl(collateral, amount, price) >= percent``, exact
    in integers; None when no price reaches it (no collateral), 0 when every price does.

    With ``v = floor(C·p / 10⁸)``: ``floor(100·v / A) >= k ⇔ v >= ceil(k·A / 100)
    ⇔ C·p >= ceil(k·A / 100)·10⁸ ⇔ p >= ceil(ceil(k·A / 100)·10⁸ / C)``; for ``A = 0`` the CVL is
    infinite as soon as the value is one cent."""
    if percent <= 0:
        return 0
    if collateral_sats <= 0:
        return None
    value_needed = 1 if amount_cents == 0 else -(-percent * amount_cents // 100)
    return -(-value_needed * SATS_PER_BTC // collateral_sats)


@dataclass(frozen=True)
class TriggerPrices:
    """Where a facility's collateralization state would change, for the set-based price pass:
    at any price ``<= down`` or ``>= up`` (None: never that way). Inside ``(down, up)`` the state
    holds, hysteresis included, so a price event selects only the facilities it moves."""

    down: int | None = None
    up: int | None = None

    def crossed(self, price_cents: int) -> bool:
        return (self.down is not None and price_cents <= self.down) or (self.up is not None and price_cents >= self.up)


NO_TRIGGERS = TriggerPrices()


def _band(previous: CollateralizationState, terms: TermValues) -> tuple[int | None, int | None]:
    """The whole-CVL band ``[lo, hi)`` in which ``previous`` holds (None: unbounded), per §3.3/§3.4."""
    mc, liq = _percent_at_least(terms.margin_call_cvl), _percent_at_least(terms.liquidation_cvl)
    if previous is CollateralizationState.FULLY_COLLATERALIZED:
        return mc, None
    if previous is CollateralizationState.UNDER_MARGIN_CALL_THRESHOLD:
        # held up to margin call + buffer (hysteresis); a downgrade below liquidation is immediate
        return liq, max(_percent_above(terms.margin_call_cvl + UPGRADE_BUFFER), liq + 1)
    if previous is CollateralizationState.UNDER_LIQUIDATION_THRESHOLD:
        return 1, liq
    if previous is CollateralizationState.NO_COLLATERAL:
        return None, 1
    raise ValueError(previous)  # NoExposure: see trigger_prices


def trigger_prices(previous: CollateralizationState | None, collateral_sats: int, outstanding_cents: int,
                   terms: TermValues) -> TriggerPrices:
    """The prices at which ``reevaluate(previous, collateral, outstanding, price)`` leaves ``previous``
    (an active facility). Agrees with ``reevaluate`` at every price (a property test checks it).
    ``up = 0`` means "at any price": the stored state is not the one its figures give (e.g. just
    activated against the facility amount), so the next price event records the right one."""
    if collateral_sats == 0:  # NoCollateral at every price; any other state moves at once
        return NO_TRIGGERS if previous is CollateralizationState.NO_COLLATERAL else TriggerPrices(up=0)
    if outstanding_cents == 0:  # CVL infinite once the collateral is worth a cent, else 0
        worth_a_cent = price_for_cvl(1, collateral_sats, 0)
        if previous is CollateralizationState.NO_EXPOSURE:
            return TriggerPrices(down=worth_a_cent - 1)
        if previous is CollateralizationState.NO_COLLATERAL:
            return TriggerPrices(up=worth_a_cent)
        return TriggerPrices(up=0)
    if previous is None or previous is CollateralizationState.NO_EXPOSURE:
        return TriggerPrices(up=0)
    lo, hi = _band(previous, terms)
    down = None if lo is None else price_for_cvl(lo, collateral_sats, outstanding_cents) - 1
    up = None if hi is None else price_for_cvl(hi, collateral_sats, outstanding_cents)
    if down is not None and down < 0:
        down = None  # held down to a price of zero
    return TriggerPrices(down=down, up=up)


def pending_trigger_prices(collateral_sats: int, facility_amount_cents: int, terms: TermValues) -> TriggerPrices:
    """A pending facility awaiting collateral changes (it activates) at the first price at which
    ``may_activate`` holds; no downward trigger (§3.5: a pending facility is re-evaluated with its
    collateral, and one that is fully collateralized activates at once)."""
    up = price_for_cvl(_percent_at_least(activation_cvl_threshold(terms)), collateral_sats, facility_amount_cents)
    return TriggerPrices(up=up)
