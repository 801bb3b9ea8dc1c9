"""A payment (credit.md §8.1): money taken from the customer's deposit account into the facility's
payment-holding account, then allocated to obligations (§8.2) in the same transaction.

An event-sourced aggregate (stream ``credit_payment``, id = the client's idempotency identity, so a
replayed request finds it): ``recorded`` with the amount, source and effective date, then
``allocated`` with the shares. The rules that decide whether a payment is taken live on the
facility (``CreditFacility.check_payment``) and in ``check_payment_amount``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.credit.errors import (
    InvalidPaymentAmount,
    PaymentAmountGreaterThanOutstanding,
    PaymentBeforeFacilityActivation,
    PaymentEffectiveInFuture,
)
from domain.credit.obligation import Allocation
from domain.events import EventSourced

MAX_PAYMENT_CENTS = 10**15


def check_payment_amount(amount_cents: int) -> None:
    if not 0 < amount_cents <= MAX_PAYMENT_CENTS:
        raise InvalidPaymentAmount("The amount must be a positive number of cents.", field="amount")


def check_payment_effective(effective: date, activated_on: date | None, business_date: date) -> None:
    """§8.1: never before the activation date; and (spec rule) never after today's business date."""
    if activated_on is not None and effective < activated_on:
        raise PaymentBeforeFacilityActivation(
            f"The payment is effective {effective}, before the facility's activation on {activated_on}.",
            field="effective", activated_on=str(activated_on))
    if effective > business_date:
        raise PaymentEffectiveInFuture(f"The payment is effective {effective}, after the business date "
                                       f"{business_date}.", field="effective", business_date=str(business_date))


def check_not_over_outstanding(amount_cents: int, uncovered_cents: int) -> None:
    """§8.1 no overpayment: at most the uncovered outstanding (principal drawn, awaiting approval
    included, + posted interest − payments). Interest accrued but not posted cannot be prepaid."""
    if amount_cents > uncovered_cents:
        raise PaymentAmountGreaterThanOutstanding(
            f"The payment of {amount_cents} ¢ exceeds the {uncovered_cents} ¢ outstanding.", field="amount",
            amount_cents=amount_cents, outstanding_cents=uncovered_cents)


@dataclass
class Payment(EventSourced):
    entity_type = "credit_payment"

    facility_id: str = ""
    amount_cents: int = 0
    effective: date = date.min
    source_account_id: str = ""
    actor: str = ""
    allocations: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def receive(cls, payment_id: str, facility_id: str, amount_cents: int, effective: date, source_account_id: str,
                actor: str) -> Payment:
        check_payment_amount(amount_cents)
        p = cls(id=payment_id)
        p.record("recorded", {"facility_id": facility_id, "amount_cents": amount_cents, "effective": str(effective),
                              "source_account_id": source_account_id, "actor": actor})
        return p

    def allocated(self, allocations: list[Allocation]) -> None:
        self.record("allocated", {"allocations": [
            {"allocation_id": a.id, "obligation_id": a.obligation_id, "obligation_type": a.obligation_type.value,
             "amount_cents": a.amount_cents, "idx": a.idx} for a in allocations]})

    @property
    def allocated_cents(self) -> int:
        return sum(a["amount_cents"] for a in self.allocations)

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "recorded":
            self.facility_id, self.amount_cents = payload["facility_id"], payload["amount_cents"]
            self.effective = date.fromisoformat(payload["effective"])
            self.source_account_id, self.actor = payload["source_account_id"], payload["actor"]
        elif event_type == "allocated":
            self.allocations = list(payload["allocations"])
