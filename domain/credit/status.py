"""The statuses a loan and its disbursals go through (credit.md §1, §4, §5)."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    PROPOSAL = "proposal"
    PENDING = "pending"
    ACTIVE = "active"
    DENIED = "denied"


class ProposalStatus(StrEnum):
    PENDING_CUSTOMER_APPROVAL = "PendingCustomerApproval"  # terms with customer_acceptance_required
    CUSTOMER_DENIED = "CustomerDenied"  # the customer rejected it (terminal, stage denied)
    PENDING_APPROVAL = "PendingApproval"
    APPROVED = "Approved"
    DENIED = "Denied"


class PendingStatus(StrEnum):
    PENDING_COLLATERALIZATION = "PendingCollateralization"
    COMPLETED = "Completed"


class FacilityStatus(StrEnum):
    ACTIVE = "Active"
    MATURED = "Matured"
    CLOSED = "Closed"


class DisbursalStatus(StrEnum):
    NEW = "New"
    APPROVED = "Approved"
    DENIED = "Denied"
    CONFIRMED = "Confirmed"
    FAILED = "Failed"  # approved, but its settlement was refused (credit.md, issue 14 decisions)


class ObligationType(StrEnum):
    DISBURSAL = "Disbursal"  # principal
    INTEREST = "Interest"


class ObligationStatus(StrEnum):
    """credit.md §7.2: not yet due → due → overdue → defaulted (each from its date); paid by payments."""

    NOT_YET_DUE = "NotYetDue"
    DUE = "Due"
    OVERDUE = "Overdue"
    DEFAULTED = "Defaulted"
    PAID = "Paid"


class AccrualCycleStatus(StrEnum):
    IN_PROGRESS = "InProgress"  # accrual periods remain
    ACCRUED = "Accrued"  # every period accrued: the cycle posting (and its interest obligation) is next
    POSTED = "Posted"


class RepaymentStatus(StrEnum):
    """A repayment-plan entry (credit.md §1.1): an obligation's status, or Upcoming (projected)."""

    UPCOMING = "Upcoming"
    NOT_YET_DUE = "NotYetDue"
    DUE = "Due"
    OVERDUE = "Overdue"
    DEFAULTED = "Defaulted"
    PAID = "Paid"
