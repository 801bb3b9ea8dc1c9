"""Partial liquidation (credit.md §9.2–§9.3): the amounts, and the ``Liquidation`` aggregate.

Amounts are exact integer / rational arithmetic (cents, sats, cents per BTC), rounded as §9.2 says:

- ``to_receive`` = ``ceil(max(0, (out · T − coll) / (T − 1)))`` cents, ``T = initial_cvl / 100``,
  ``coll`` = the collateral's value truncated to cents; in cents that is
  ``(out · I − 100 · coll) / (I − 100)`` with ``I = initial_cvl``, so no Decimal division rounds;
- ``to_liquidate`` = ``cents_to_sats_round_up(to_receive, price)``;
- effective price = ``to_receive / btc(to_liquidate)`` rounded up to the cent;
- premium % = ``(effective − price) / price × 100``, 2 dp half-up (display only).

The aggregate (stream ``credit_liquidation``) records ``initiated``, ``collateral_sent`` (any number
of times), ``proceeds_received`` (once) and ``completed`` (the proceeds' payment applied: the window
closes, a later crossing may start a new one).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from domain.credit.errors import (
    CollateralSentExceedsCollateral,
    InvalidLiquidationAmount,
    LiquidationProceedsAlreadyReceived,
    NoActiveLiquidation,
)
from domain.credit.money import SATS_PER_BTC, cents_to_sats_round_up, sats_to_cents_round_down
from domain.events import EventSourced

MAX_AMOUNT = 10**15


def _ceil(x: Fraction) -> int:
    return -(-x.numerator // x.denominator)


@dataclass(frozen=True)
class LiquidationAmounts:
    to_receive_cents: int
    to_liquidate_sats: int
    price_cents: int
    effective_price_cents: int | None
    premium_percent: Decimal | None


def to_receive_cents(outstanding_cents: int, collateral_sats: int, price_cents: int, initial_cvl: Decimal) -> int:
    """Cents the liquidation must bring to put the CVL back at ``initial_cvl`` (§9.2)."""
    target = Fraction(initial_cvl)
    if target <= 100:
        raise ValueError("initial_cvl must be above 100")
    coll = sats_to_cents_round_down(collateral_sats, price_cents)
    need = (outstanding_cents * target - 100 * coll) / (target - 100)
    return max(0, _ceil(need))


def effective_price_cents(to_receive: int, to_liquidate_sats: int) -> int | None:
    """``to_receive / btc(to_liquidate)`` rounded up to the cent; None when nothing is sold."""
    if to_liquidate_sats <= 0:
        return None
    return _ceil(Fraction(to_receive * SATS_PER_BTC, to_liquidate_sats))


def premium_percent(effective_cents: int | None, price_cents: int) -> Decimal | None:
    if effective_cents is None or price_cents <= 0:
        return None
    exact = Fraction(effective_cents - price_cents, price_cents) * 100
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def amounts(outstanding_cents: int, collateral_sats: int, price_cents: int, initial_cvl: Decimal) -> LiquidationAmounts:
    receive = to_receive_cents(outstanding_cents, collateral_sats, price_cents, initial_cvl)
    sats = cents_to_sats_round_up(receive, price_cents)
    eff = effective_price_cents(receive, sats)
    return LiquidationAmounts(receive, sats, price_cents, eff, premium_percent(eff, price_cents))


def should_start(state_changed_to_liquidation: bool, outstanding_cents: int, has_open_liquidation: bool) -> bool:
    """§9.2: the state *changed to* UnderLiquidationThreshold, something is outstanding, none open."""
    return state_changed_to_liquidation and outstanding_cents > 0 and not has_open_liquidation


class LiquidationStatus:
    OPEN = "open"            # initiated, collateral may be sent, proceeds not yet received
    PROCEEDS_RECEIVED = "proceeds_received"  # proceeds in, the payment not yet applied
    COMPLETED = "completed"  # the payment applied: the window is closed


@dataclass
class Liquidation(EventSourced):
    entity_type = "credit_liquidation"

    facility_id: str = ""
    trigger_price_cents: int = 0
    expected_to_receive_cents: int = 0
    estimated_to_liquidate_sats: int = 0
    sent_total_sats: int = 0
    sent_count: int = 0
    proceeds_cents: int | None = None
    payment_id: str | None = None
    status: str = LiquidationStatus.OPEN

    @classmethod
    def initiate(cls, liquidation_id: str, facility_id: str, a: LiquidationAmounts) -> Liquidation:
        liq = cls(id=liquidation_id)
        liq.record("initiated", {"facility_id": facility_id, "trigger_price_cents": a.price_cents,
                                 "expected_to_receive_cents": a.to_receive_cents,
                                 "estimated_to_liquidate_sats": a.to_liquidate_sats})
        return liq

    def check_collateral_sent(self, amount_sats: int, collateral_sats: int) -> None:
        if self.status != LiquidationStatus.OPEN:
            raise NoActiveLiquidation(f"Liquidation {self.id} is {self.status}: no collateral can be sent to it.")
        if not 0 < amount_sats <= MAX_AMOUNT:
            raise InvalidLiquidationAmount("The amount must be a positive number of sats.", field="amount")
        if amount_sats > collateral_sats:
            raise CollateralSentExceedsCollateral(
                f"{amount_sats} sats sent exceed the facility's {collateral_sats} sats of collateral.",
                field="amount", amount_sats=amount_sats, collateral_sats=collateral_sats)

    def collateral_sent(self, amount_sats: int, collateral_sats: int) -> None:
        self.check_collateral_sent(amount_sats, collateral_sats)
        self.record("collateral_sent", {"amount_sats": amount_sats, "seq": self.sent_count + 1})

    def check_proceeds(self, amount_cents: int) -> None:
        if self.status != LiquidationStatus.OPEN:
            raise LiquidationProceedsAlreadyReceived(
                f"Liquidation {self.id} already received {self.proceeds_cents} ¢ of proceeds.",
                proceeds_cents=self.proceeds_cents)
        if not 0 < amount_cents <= MAX_AMOUNT:
            raise InvalidLiquidationAmount("The amount must be a positive number of cents.", field="amount")

    def proceeds_received(self, amount_cents: int, payment_id: str) -> None:
        self.check_proceeds(amount_cents)
        self.record("proceeds_received", {"amount_cents": amount_cents, "payment_id": payment_id,
                                          "amount_liquidated_sats": self.sent_total_sats})

    def complete(self) -> None:
        if self.status == LiquidationStatus.COMPLETED:
            return
        self.record("completed", {"payment_id": self.payment_id})

    @property
    def is_open(self) -> bool:
        return self.status != LiquidationStatus.COMPLETED

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "initiated":
            self.facility_id = payload["facility_id"]
            self.trigger_price_cents = payload["trigger_price_cents"]
            self.expected_to_receive_cents = payload["expected_to_receive_cents"]
            self.estimated_to_liquidate_sats = payload["estimated_to_liquidate_sats"]
        elif event_type == "collateral_sent":
            self.sent_total_sats += payload["amount_sats"]
            self.sent_count += 1
        elif event_type == "proceeds_received":
            self.proceeds_cents, self.payment_id = payload["amount_cents"], payload["payment_id"]
            self.status = LiquidationStatus.PROCEEDS_RECEIVED
        elif event_type == "completed":
            self.status = LiquidationStatus.COMPLETED
