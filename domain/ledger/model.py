"""Entries, transactions-to-post and balances: pure values and the balancing rule.

Money is an integer in minor units: USD cents, BTC satoshis. An entry's ``units`` is always
positive; the direction says which side it is on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.ledger.errors import InvalidEntries, UnbalancedTransaction


class Currency(StrEnum):
    USD = "USD"
    BTC = "BTC"


class Direction(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class Layer(StrEnum):
    SETTLED = "settled"
    PENDING = "pending"
    ENCUMBRANCE = "encumbrance"


class NormalSide(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class BalanceControl(StrEnum):
    """Refuse postings that take this balance (signed by the normal side) below zero."""

    SETTLED = "settled"
    AVAILABLE = "available"


@dataclass(frozen=True)
class Entry:
    account_id: Any  # uuid.UUID
    units: int
    currency: Currency
    direction: Direction
    layer: Layer = Layer.SETTLED
    entry_type: str = ""


@dataclass(frozen=True)
class TxSpec:
    """What a template produces: the transaction to post."""

    entries: tuple[Entry, ...]
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    correlation_id: str | None = None


def validate_entries(entries: tuple[Entry, ...] | list[Entry]) -> None:
    """Reject malformed entries and any (currency, layer) pair whose debits ≠ credits."""
    if len(entries) < 2:
        raise InvalidEntries("A transaction needs at least two entries.")
    net: dict[tuple[str, str], int] = defaultdict(int)
    for e in entries:
        if isinstance(e.units, bool) or not isinstance(e.units, int) or e.units <= 0:
            raise InvalidEntries(f"Entry units must be a positive integer (minor units), got {e.units!r}.")
        Currency(e.currency), Direction(e.direction), Layer(e.layer)  # noqa: B018 (validates)
        net[(e.currency, e.layer)] += e.units if e.direction == Direction.DEBIT else -e.units
    for (currency, layer), amount in sorted(net.items()):
        if amount:
            raise UnbalancedTransaction(
                f"Debits and credits differ by {amount} on {currency}/{layer}.",
                currency=str(currency), layer=str(layer), amount=amount,
            )


@dataclass(frozen=True)
class LayerAmounts:
    dr: int = 0
    cr: int = 0

    def signed(self, side: NormalSide) -> int:
        return self.dr - self.cr if side == NormalSide.DEBIT else self.cr - self.dr


@dataclass(frozen=True)
class Balance:
    """Debit and credit totals per layer for one (account or set, currency)."""

    currency: Currency
    normal_side: NormalSide
    settled_amounts: LayerAmounts = LayerAmounts()
    pending_amounts: LayerAmounts = LayerAmounts()
    encumbrance_amounts: LayerAmounts = LayerAmounts()
    version: int = 0

    @property
    def settled(self) -> int:
        return self.settled_amounts.signed(self.normal_side)

    @property
    def pending(self) -> int:
        return self.pending_amounts.signed(self.normal_side)

    @property
    def encumbrance(self) -> int:
        return self.encumbrance_amounts.signed(self.normal_side)

    @property
    def available(self) -> int:
        """Cala's ``available(ENCUMBRANCE)``: settled + pending + encumbrance."""
        return self.settled + self.pending + self.encumbrance

    @classmethod
    def from_row(cls, currency: str, side: str, row: Any, version: int = 0) -> Balance:
        return cls(
            Currency(currency), NormalSide(side),
            LayerAmounts(int(row["settled_dr"]), int(row["settled_cr"])),
            LayerAmounts(int(row["pending_dr"]), int(row["pending_cr"])),
            LayerAmounts(int(row["encumbrance_dr"]), int(row["encumbrance_cr"])),
            version,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": str(self.currency), "settled": self.settled, "pending": self.pending,
            "encumbrance": self.encumbrance, "available": self.available, "version": self.version,
            "settled_dr": self.settled_amounts.dr, "settled_cr": self.settled_amounts.cr,
            "pending_dr": self.pending_amounts.dr, "pending_cr": self.pending_amounts.cr,
            "encumbrance_dr": self.encumbrance_amounts.dr, "encumbrance_cr": self.encumbrance_amounts.cr,
        }
