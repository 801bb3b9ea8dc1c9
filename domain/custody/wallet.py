"""The custody wallet's balance (custody-price-reports.md §1.6–§1.7): pure rules, no I/O.

A wallet's balance is its last ``balance_changed`` event (aggregate ``custody_wallet``). A notice
records a new balance only when it differs from the **latest** one, whatever order notices come in:
the wallet workflow always applies the provider's current balance, so a duplicate or a late
delivery changes nothing. A released wallet (its facility completed) still records balances but no
longer moves collateral.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from domain.events import EventSourced

ENTITY_TYPE = "custody_wallet"
SYNC_ACTOR = "system:custodian-sync"  # initiator of collateral postings and of polled balances (§6)


def provider_subject(provider: str) -> str:
    """The audit subject of a processed webhook notification (§6: ``system:<provider>``)."""
    return f"system:{provider}"


def wallet_object(wallet_id: str) -> str:
    return f"custody/wallet/{wallet_id}"


WALLET_UPDATE = "custody:wallet:update"


def effective_date(changed_at: datetime) -> date:
    """§1.7 step 7: the collateral change is effective on the UTC date of the balance change."""
    if changed_at.tzinfo is None:
        changed_at = changed_at.replace(tzinfo=UTC)
    return changed_at.astimezone(UTC).date()


@dataclass
class CustodyWallet(EventSourced):
    entity_type: ClassVar[str] = ENTITY_TYPE
    balance_sats: int | None = None
    balance_changed_at: datetime | None = None
    released_at: datetime | None = None

    def check_balance(self, balance_sats: int) -> bool:
        """True when ``balance_sats`` is a change (the latest balance differs)."""
        if balance_sats < 0:
            raise ValueError("a wallet balance is never negative")
        return balance_sats != self.balance_sats

    def record_balance(self, balance_sats: int, changed_at: datetime) -> bool:
        if not self.check_balance(balance_sats):
            return False
        self.record("balance_changed", {"new_balance": balance_sats, "changed_at": changed_at.isoformat()})
        return True

    def release(self, at: datetime) -> bool:
        """The facility completed: its collateral left through the custody path (once)."""
        if self.released_at is not None:
            return False
        self.record("released", {"released_at": at.isoformat()})
        return True

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "balance_changed":
            self.balance_sats = payload["new_balance"]
            self.balance_changed_at = datetime.fromisoformat(payload["changed_at"])
        elif event_type == "released":
            self.released_at = datetime.fromisoformat(payload["released_at"])
