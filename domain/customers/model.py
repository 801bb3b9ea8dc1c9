"""The Customer aggregate: contact data, KYC state and activity class, rebuilt from its events.

KYC follows the product brief (one Customer, `PendingVerification` → `Verified`/`Rejected`), not
lana's prospect/customer split (customers-deposits.md §4.5). A RED review of a verified customer
asks for its deposit accounts to be frozen and a later GREEN asks for them to be unfrozen (§4.4);
the request is recorded as an event, the deposit module acts on it.

Lifecycle (§4.1): ``Active`` ⇄ ``Frozen`` → ``Closed`` (terminal). An operator freeze holds the
deposit accounts frozen just as a KYC RED does: the accounts are frozen while either holds
(``holds_deposit_accounts``). Closing needs every product closed (§4.2, ``check_close``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.customers.errors import (
    CustomerIsClosed,
    HasActiveCreditFacilities,
    HasOpenDepositAccounts,
    HasPendingCreditFacilities,
    HasPendingCreditFacilityProposals,
    HasPendingWithdrawals,
)
from domain.events import EventSourced


class CustomerType(StrEnum):
    INDIVIDUAL = "Individual"
    GOVERNMENT_ENTITY = "GovernmentEntity"
    PRIVATE_COMPANY = "PrivateCompany"
    BANK = "Bank"
    FINANCIAL_INSTITUTION = "FinancialInstitution"
    FOREIGN_AGENCY_OR_SUBSIDIARY = "ForeignAgencyOrSubsidiary"
    NON_DOMICILED_COMPANY = "NonDomiciledCompany"


class KycStatus(StrEnum):
    PENDING_VERIFICATION = "PendingVerification"
    VERIFIED = "Verified"
    REJECTED = "Rejected"


class KycLevel(StrEnum):
    NOT_KYCED = "NotKyced"
    BASIC = "Basic"
    ADVANCED = "Advanced"


class Activity(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    SUSPENDED = "Suspended"


class CustomerStatus(StrEnum):
    ACTIVE = "Active"
    FROZEN = "Frozen"
    CLOSED = "Closed"


class ContactField(StrEnum):
    EMAIL = "email"
    TELEGRAM_HANDLE = "telegram_handle"


class DepositAccountAction(StrEnum):
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"


@dataclass(frozen=True)
class KycReview:
    """A SumSub `applicantReviewed` notice, reduced to what the decision needs."""

    event_id: str
    approved: bool
    applicant_id: str
    level_name: str
    reviewed_at: datetime | None


def ensure_open(customer_id: str, status: str, command: str) -> None:
    """Closed is terminal: every command on a Closed customer is refused (409 ``customer.is_closed``)."""
    if status == CustomerStatus.CLOSED:
        raise CustomerIsClosed(f"Customer {customer_id} is Closed: cannot {command}.",
                               customer_status=CustomerStatus.CLOSED.value)


@dataclass(frozen=True)
class OpenProducts:
    """What the customer still has open, counted by the close operation (§4.2)."""

    active_credit_facilities: int = 0
    pending_credit_facility_proposals: int = 0
    pending_credit_facilities: int = 0
    open_deposit_accounts: int = 0
    pending_withdrawals: int = 0


# §4.2, checked in this order: (count field, refusal, what is still open)
_CLOSE_BLOCKERS = (
    ("active_credit_facilities", HasActiveCreditFacilities, "credit facilities that are not closed"),
    ("pending_credit_facility_proposals", HasPendingCreditFacilityProposals,
     "credit facility proposals awaiting a decision"),
    ("pending_credit_facilities", HasPendingCreditFacilities,
     "pending credit facilities awaiting collateralization"),
    ("open_deposit_accounts", HasOpenDepositAccounts, "deposit accounts that are not closed"),
    ("pending_withdrawals", HasPendingWithdrawals, "withdrawals pending approval or confirmation"),
)


@dataclass
class Customer(EventSourced):
    entity_type = "customer"

    email: str = ""
    telegram_handle: str = ""
    customer_type: CustomerType = CustomerType.INDIVIDUAL
    kyc_status: KycStatus = KycStatus.PENDING_VERIFICATION
    kyc_level: KycLevel = KycLevel.NOT_KYCED
    applicant_id: str | None = None
    last_review_at: datetime | None = None
    accounts_frozen_by_kyc: bool = False
    activity: Activity = Activity.ACTIVE
    status: CustomerStatus = CustomerStatus.ACTIVE
    processed_kyc_events: set[str] = field(default_factory=set, repr=False)
    deposit_requests: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def create(cls, customer_id: str, email: str, telegram_handle: str, customer_type: CustomerType,
               actor: str) -> Customer:
        c = cls(id=customer_id)
        c.record("initialized", {"email": email, "telegram_handle": telegram_handle,
                                 "customer_type": customer_type.value, "actor": actor})
        return c

    # -- KYC -------------------------------------------------------------------------------------
    def record_applicant(self, applicant_id: str, level_name: str) -> None:
        if self.applicant_id is None:
            self.record("kyc_applicant_created", {"applicant_id": applicant_id, "level_name": level_name})

    def record_link(self, url: str, actor: str) -> None:
        self.record("kyc_link_created", {"url": url, "actor": actor})

    def apply_review(self, review: KycReview, level: KycLevel | None) -> DepositAccountAction | None:
        """Apply a review; return the deposit-account action it calls for (None: nothing to do).

        Harmless when replayed (same event id) or late (older than the last applied review).
        A GREEN for an unmapped level name (``level`` None) is ignored, as lana does (§6.6).
        """
        if review.event_id in self.processed_kyc_events:
            return None
        if self.last_review_at and review.reviewed_at and review.reviewed_at < self.last_review_at:
            return None
        if self.applicant_id and review.applicant_id and review.applicant_id != self.applicant_id:
            return None
        reviewed_at = review.reviewed_at.isoformat() if review.reviewed_at else None
        base = {"event_id": review.event_id, "applicant_id": review.applicant_id, "reviewed_at": reviewed_at,
                "actor": "system:sumsub"}
        if review.approved:
            if level is None:
                return None
            self.record("kyc_approved", {**base, "level": level.value})
            if self.accounts_frozen_by_kyc:
                return DepositAccountAction.UNFREEZE
            return None
        was_verified = self.kyc_status == KycStatus.VERIFIED
        self.record("kyc_rejected", base)
        if was_verified and not self.accounts_frozen_by_kyc:
            return DepositAccountAction.FREEZE
        return None

    def request_deposit_action(self, action: DepositAccountAction, reason: str, key: str) -> bool:
        if key in self.deposit_requests:
            return False
        self.record("deposit_accounts_action_requested", {"action": action.value, "reason": reason, "key": key})
        return True

    # -- lifecycle (§4.1) ------------------------------------------------------------------------
    @property
    def holds_deposit_accounts(self) -> bool:
        """The deposit accounts stay frozen while the customer is Frozen or a KYC RED holds them."""
        return self.status == CustomerStatus.FROZEN or self.accounts_frozen_by_kyc

    def _ensure_open(self, command: str) -> None:
        ensure_open(self.id, self.status, command)

    def check_update_contact(self, contact: ContactField, value: str) -> bool:
        """True = record the new value; False = unchanged (an idempotent replay)."""
        self._ensure_open(f"update its {contact.value}")
        return getattr(self, contact.value) != value

    def update_contact(self, contact: ContactField, value: str, actor: str) -> bool:
        if not self.check_update_contact(contact, value):
            return False
        self.record(f"{contact.value}_updated", {contact.value: value, "actor": actor})
        return True

    def check_freeze(self) -> bool:
        self._ensure_open("freeze")
        return self.status != CustomerStatus.FROZEN

    def freeze(self, actor: str) -> bool:
        if not self.check_freeze():
            return False
        self.record("frozen", {"status": CustomerStatus.FROZEN.value, "actor": actor})
        return True

    def check_unfreeze(self) -> bool:
        self._ensure_open("unfreeze")
        return self.status == CustomerStatus.FROZEN

    def unfreeze(self, actor: str) -> bool:
        if not self.check_unfreeze():
            return False
        self.record("unfrozen", {"status": CustomerStatus.ACTIVE.value, "actor": actor})
        return True

    def check_close(self, open_products: OpenProducts) -> bool:
        """False when already closed; raises the first §4.2 precondition that fails."""
        if self.status == CustomerStatus.CLOSED:
            return False
        for name, refusal, what in _CLOSE_BLOCKERS:
            count = getattr(open_products, name)
            if count:
                raise refusal(f"Customer {self.id} cannot be closed: it has {count} {what}.", open=name,
                              count=count)
        return True

    def close(self, open_products: OpenProducts, actor: str) -> bool:
        if not self.check_close(open_products):
            return False
        self.record("closed", {"status": CustomerStatus.CLOSED.value, "actor": actor})
        return True

    # -- activity --------------------------------------------------------------------------------
    def classify(self, activity: Activity, as_of: datetime) -> bool:
        if activity == self.activity or self.activity == Activity.SUSPENDED:
            return False
        self.record("activity_classified", {"activity": activity.value, "as_of": as_of.isoformat()})
        return True

    # -- fold ------------------------------------------------------------------------------------
    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "initialized":
            self.email = payload["email"]
            self.telegram_handle = payload["telegram_handle"]
            self.customer_type = CustomerType(payload["customer_type"])
        elif event_type == "kyc_applicant_created":
            self.applicant_id = payload["applicant_id"]
        elif event_type in ("kyc_approved", "kyc_rejected"):
            self.processed_kyc_events.add(payload["event_id"])
            if payload.get("reviewed_at"):
                self.last_review_at = datetime.fromisoformat(payload["reviewed_at"])
            if payload.get("applicant_id") and self.applicant_id is None:
                self.applicant_id = payload["applicant_id"]
            if event_type == "kyc_approved":
                self.kyc_status = KycStatus.VERIFIED
                self.kyc_level = KycLevel(payload["level"])
            else:
                self.kyc_status = KycStatus.REJECTED
        elif event_type == "deposit_accounts_action_requested":
            self.deposit_requests.add(payload["key"])
            self.accounts_frozen_by_kyc = payload["action"] == DepositAccountAction.FREEZE.value
        elif event_type == "activity_classified":
            self.activity = Activity(payload["activity"])
        elif event_type in ("email_updated", "telegram_handle_updated"):
            field_name = event_type.removesuffix("_updated")
            setattr(self, field_name, payload[field_name])
        elif event_type in ("frozen", "unfrozen", "closed"):
            self.status = CustomerStatus(payload["status"])
