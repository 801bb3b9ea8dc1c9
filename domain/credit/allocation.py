"""Payment allocation (credit.md §8.2, §8.3): which obligations a payment pays, and how much of each.

Pure. The order is a sort key over the facility's obligations, chosen per product by the term
``payment_allocation_strategy``:

- ``interest_first`` (lana's behaviour, the default): every interest obligation before every
  principal one, then the oldest debt first (``effective``), then the oldest created; the status
  does not matter;
- ``tiered`` (the variant lana's documentation describes): defaulted, then overdue, then due, then
  not yet due; inside a tier interest before principal, then oldest first.

The walk is the same for both: skip what is fully paid, give each obligation ``min(remaining,
outstanding)``, stop when the payment is used up. A partially paid obligation keeps its status; the
next payment starts again from the top of the order (§8.3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from domain.credit.status import ObligationStatus, ObligationType


class AllocationStrategy(StrEnum):
    INTEREST_FIRST = "interest_first"
    TIERED = "tiered"


@dataclass(frozen=True)
class Owed:
    """What allocation needs to know of one obligation."""

    obligation_id: str
    obligation_type: ObligationType
    status: ObligationStatus
    effective: date
    created_at: datetime
    outstanding_cents: int


SortKey = Callable[[Owed], tuple[Any, ...]]

_INTEREST_FIRST = {ObligationType.INTEREST: 0, ObligationType.DISBURSAL: 1}
_TIER = {ObligationStatus.DEFAULTED: 0, ObligationStatus.OVERDUE: 1, ObligationStatus.DUE: 2,
         ObligationStatus.NOT_YET_DUE: 3, ObligationStatus.PAID: 4}


def interest_first_key(o: Owed) -> tuple[Any, ...]:
    return _INTEREST_FIRST[o.obligation_type], o.effective, o.created_at, o.obligation_id


def tiered_key(o: Owed) -> tuple[Any, ...]:
    return _TIER[o.status], _INTEREST_FIRST[o.obligation_type], o.effective, o.created_at, o.obligation_id


SORT_KEYS: dict[AllocationStrategy, SortKey] = {
    AllocationStrategy.INTEREST_FIRST: interest_first_key,
    AllocationStrategy.TIERED: tiered_key,
}


@dataclass(frozen=True)
class Share:
    obligation: Owed
    amount_cents: int


def allocate(amount_cents: int, owed: Iterable[Owed],
             strategy: AllocationStrategy | SortKey = AllocationStrategy.INTEREST_FIRST) -> list[Share]:
    """The shares of ``amount_cents``, in allocation order; their sum is ``min(amount, Σ
    outstanding)`` (a remainder, if any, stays unallocated in the payment-holding account)."""
    if amount_cents < 0:
        raise ValueError("a payment amount is never negative")
    key = SORT_KEYS[strategy] if isinstance(strategy, AllocationStrategy) else strategy
    remaining, shares = amount_cents, []
    for o in sorted(owed, key=key):
        if remaining == 0:
            break
        if o.outstanding_cents <= 0:
            continue
        take = min(remaining, o.outstanding_cents)
        shares.append(Share(o, take))
        remaining -= take
    return shares


def total(shares: Sequence[Share]) -> int:
    return sum(s.amount_cents for s in shares)
