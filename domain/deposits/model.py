"""Deposit accounts, deposits and withdrawals as event-sourced aggregates (pure rules).

customers-deposits.md §8 (account states), §11 (deposits), §12 (withdrawals, with the spec rules
W1/W2). Every command is idempotent: repeating it on an entity already in the target state returns
False (nothing to record, nothing to post); a command the state forbids raises an error naming the
state. The ledger postings that go with each change are made by ``activities/deposits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.deposits.errors import (
    AlreadyCancelled,
    AlreadyConfirmed,
    BalanceIsNotZero,
    CannotUpdateClosedAccount,
    CannotUpdateFrozenAccount,
    DepositAccountClosed,
    DepositAccountFrozen,
    InvalidWithdrawalState,
    NotApproved,
    NotConfirmed,
)
from domain.events import EventSourced


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    FROZEN = "FROZEN"
    CLOSED = "CLOSED"


class DepositStatus(StrEnum):
    CONFIRMED = "CONFIRMED"
    REVERTED = "REVERTED"


class WithdrawalStatus(StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    PENDING_CONFIRMATION = "PENDING_CONFIRMATION"
    CONFIRMED = "CONFIRMED"
    DENIED = "DENIED"
    CANCELLED = "CANCELLED"
    REVERTED = "REVERTED"


# statuses in which the withdrawal's amount is still reserved on the pending layer
RESERVED = (WithdrawalStatus.PENDING_APPROVAL, WithdrawalStatus.PENDING_CONFIRMATION)


@dataclass
class DepositAccount(EventSourced):
    entity_type = "deposit_account"

    holder_id: str = ""
    customer_type: str = ""
    frozen_account_id: str = ""
    status: AccountStatus = AccountStatus.ACTIVE
    activity: str = "Active"

    @classmethod
    def open(cls, account_id: str, holder_id: str, customer_type: str, frozen_account_id: str,
             actor: str, activity: str = "Active") -> DepositAccount:
        a = cls(id=account_id)
        a.record("initialized", {"holder_id": holder_id, "customer_type": customer_type,
                                 "frozen_account_id": frozen_account_id, "activity": activity, "actor": actor})
        return a

    def ensure_active(self, operation: str) -> None:
        """Deposits, withdrawals and their reversals need an ACTIVE account (§8.3)."""
        if self.status == AccountStatus.FROZEN:
            raise DepositAccountFrozen(f"Deposit account {self.id} is FROZEN: cannot {operation}.",
                                       state=self.status.value)
        if self.status == AccountStatus.CLOSED:
            raise DepositAccountClosed(f"Deposit account {self.id} is CLOSED: cannot {operation}.",
                                       state=self.status.value)

    def check_freeze(self) -> bool:
        """True if freezing would change anything (False: already frozen); a closed account refuses."""
        if self.status == AccountStatus.CLOSED:
            raise CannotUpdateClosedAccount(f"Deposit account {self.id} is CLOSED: cannot freeze.",
                                            state=self.status.value)
        return self.status != AccountStatus.FROZEN

    def freeze(self, moved: int, actor: str, reason: str | None = None) -> bool:
        if not self.check_freeze():
            return False
        self.record("frozen", {"moved": moved, "actor": actor, "reason": reason})
        return True

    def check_unfreeze(self) -> bool:
        """True if unfreezing would change anything (False: not frozen); a closed account refuses."""
        if self.status == AccountStatus.CLOSED:
            raise CannotUpdateClosedAccount(f"Deposit account {self.id} is CLOSED: cannot unfreeze.",
                                            state=self.status.value)
        return self.status == AccountStatus.FROZEN

    def unfreeze(self, moved: int, actor: str, reason: str | None = None) -> bool:
        if not self.check_unfreeze():
            return False
        self.record("unfrozen", {"moved": moved, "actor": actor, "reason": reason})
        return True

    def check_close(self, balance: tuple[int, int] | None = None) -> bool:
        """True if closing would change anything (False: already closed). With ``balance``
        (settled, pending, USD cents, from the ledger) also the §8 rule that both must be zero."""
        if self.status == AccountStatus.FROZEN:
            raise CannotUpdateFrozenAccount(
                f"Deposit account {self.id} is FROZEN: unfreeze it before closing.", state=self.status.value)
        if self.status == AccountStatus.CLOSED:
            return False
        if balance is not None and balance != (0, 0):
            settled, pending = balance
            raise BalanceIsNotZero(
                f"Deposit account {self.id} has settled {settled} and pending {pending} cents; "
                "both must be zero to close it.", settled=settled, pending=pending)
        return True

    def close(self, actor: str) -> bool:
        if not self.check_close():
            return False
        self.record("closed", {"actor": actor})
        return True

    def set_activity(self, activity: str) -> bool:
        if activity == self.activity:
            return False
        self.record("activity_updated", {"activity": activity})
        return True

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "initialized":
            self.holder_id = payload["holder_id"]
            self.customer_type = payload["customer_type"]
            self.frozen_account_id = payload["frozen_account_id"]
            self.activity = payload.get("activity", "Active")
        elif event_type == "frozen":
            self.status = AccountStatus.FROZEN
        elif event_type == "unfrozen":
            self.status = AccountStatus.ACTIVE
        elif event_type == "closed":
            self.status = AccountStatus.CLOSED
        elif event_type == "activity_updated":
            self.activity = payload["activity"]


@dataclass
class Deposit(EventSourced):
    entity_type = "deposit"

    account_id: str = ""
    amount: int = 0
    reference: str = ""
    status: DepositStatus = DepositStatus.CONFIRMED

    @classmethod
    def record_new(cls, deposit_id: str, account_id: str, amount: int, reference: str, actor: str) -> Deposit:
        d = cls(id=deposit_id)
        d.record("initialized", {"account_id": account_id, "amount": amount, "reference": reference,
                                 "actor": actor})
        return d

    def revert(self, ledger_tx_id: str, actor: str) -> bool:
        if self.status == DepositStatus.REVERTED:
            return False
        self.record("reverted", {"ledger_tx_id": ledger_tx_id, "actor": actor})
        return True

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "initialized":
            self.account_id = payload["account_id"]
            self.amount = payload["amount"]
            self.reference = payload["reference"]
        elif event_type == "reverted":
            self.status = DepositStatus.REVERTED


@dataclass
class Withdrawal(EventSourced):
    entity_type = "withdrawal"

    account_id: str = ""
    amount: int = 0
    reference: str = ""
    status: WithdrawalStatus = WithdrawalStatus.PENDING_APPROVAL
    approved: bool | None = None

    @classmethod
    def initiate(cls, withdrawal_id: str, account_id: str, amount: int, reference: str, actor: str) -> Withdrawal:
        w = cls(id=withdrawal_id)
        w.record("initialized", {"account_id": account_id, "amount": amount, "reference": reference,
                                 "actor": actor})
        return w

    def _state(self) -> str:
        return f"Withdrawal {self.id} is {self.status.value}"

    def conclude_approval(self, approved: bool) -> bool:
        """Apply governance's decision; True when the reservation must be released (denied).

        Replays are no-ops. A cancelled withdrawal records the decision but stays CANCELLED and
        posts nothing (spec rule W2).
        """
        if self.approved is not None:
            return False
        if self.status == WithdrawalStatus.CANCELLED:
            self.record("approval_process_concluded", {"approved": approved, "status": self.status.value})
            return False
        status = WithdrawalStatus.PENDING_CONFIRMATION if approved else WithdrawalStatus.DENIED
        self.record("approval_process_concluded", {"approved": approved, "status": status.value})
        return not approved

    def check_confirm(self) -> bool:
        s = self.status
        if s == WithdrawalStatus.CONFIRMED:
            return False
        if s == WithdrawalStatus.PENDING_CONFIRMATION:
            return True
        if s == WithdrawalStatus.CANCELLED:
            raise AlreadyCancelled(f"{self._state()}: cannot confirm.", state=s.value)
        if s in (WithdrawalStatus.PENDING_APPROVAL, WithdrawalStatus.DENIED):
            raise NotApproved(f"{self._state()}: only an approved withdrawal can be confirmed.", state=s.value)
        raise InvalidWithdrawalState(f"{self._state()}: cannot confirm.", state=s.value)

    def confirm(self, ledger_tx_id: str, actor: str) -> bool:
        if not self.check_confirm():
            return False
        self.record("confirmed", {"ledger_tx_id": ledger_tx_id, "actor": actor})
        return True

    def check_cancel(self) -> bool:
        s = self.status
        if s == WithdrawalStatus.CANCELLED:
            return False
        if s in RESERVED:
            return True
        if s in (WithdrawalStatus.CONFIRMED, WithdrawalStatus.REVERTED):
            raise AlreadyConfirmed(f"{self._state()}: cannot cancel.", state=s.value)
        raise InvalidWithdrawalState(f"{self._state()}: cannot cancel.", state=s.value)  # W1

    def cancel(self, ledger_tx_id: str, actor: str) -> bool:
        if not self.check_cancel():
            return False
        self.record("cancelled", {"ledger_tx_id": ledger_tx_id, "actor": actor})
        return True

    def check_revert(self) -> bool:
        s = self.status
        if s == WithdrawalStatus.REVERTED:
            return False
        if s == WithdrawalStatus.CONFIRMED:
            return True
        if s == WithdrawalStatus.CANCELLED:
            raise AlreadyCancelled(f"{self._state()}: cannot revert.", state=s.value)
        raise NotConfirmed(f"{self._state()}: only a confirmed withdrawal can be reverted.", state=s.value)

    def revert(self, ledger_tx_id: str, actor: str) -> bool:
        if not self.check_revert():
            return False
        self.record("reverted", {"ledger_tx_id": ledger_tx_id, "actor": actor})
        return True

    def deny(self, ledger_tx_id: str) -> None:
        self.record("denied", {"ledger_tx_id": ledger_tx_id})

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "initialized":
            self.account_id = payload["account_id"]
            self.amount = payload["amount"]
            self.reference = payload["reference"]
        elif event_type == "approval_process_concluded":
            self.approved = payload["approved"]
            self.status = WithdrawalStatus(payload["status"])
        elif event_type == "denied":
            self.status = WithdrawalStatus.DENIED
        elif event_type == "confirmed":
            self.status = WithdrawalStatus.CONFIRMED
        elif event_type == "cancelled":
            self.status = WithdrawalStatus.CANCELLED
        elif event_type == "reverted":
            self.status = WithdrawalStatus.REVERTED
