"""Customer module errors (stable codes, mapped to problem+json by api/errors.py)."""

from __future__ import annotations

from domain.errors import Conflict, LanaError, NotFound, ValidationFailed, register


@register
class CustomerNotFound(NotFound):
    code = "customer.not_found"
    title = "Customer not found"


@register
class DuplicateEmail(Conflict):
    code = "customer.duplicate_email"
    title = "A customer with this e-mail already exists"


@register
class DuplicateTelegramHandle(Conflict):
    code = "customer.duplicate_telegram_handle"
    title = "A customer with this Telegram handle already exists"


@register
class CustomerNotVerified(ValidationFailed):
    """Raised by the deposit and credit modules when `kyc_required` is on and KYC is not `Verified`."""

    code = "customer.not_verified"
    title = "Customer KYC is not verified"


@register
class KycProviderUnavailable(LanaError):
    code = "customer.kyc_provider_unavailable"
    status = 502
    title = "The KYC provider could not be reached"


@register
class DocumentNotFound(NotFound):
    code = "customer.document_not_found"
    title = "Customer document not found"


@register
class DocumentArchived(Conflict):
    code = "customer.document_archived"
    title = "The document is archived: no download links"


@register
class DocumentTooLarge(LanaError):
    code = "customer.document_too_large"
    status = 413
    title = "Document too large"


@register
class DocumentTypeNotAllowed(LanaError):
    code = "customer.document_type_not_allowed"
    status = 415
    title = "Document content type not allowed"


@register
class DocumentDeleted(Conflict):
    code = "customer.document_deleted"
    title = "Document was deleted"


@register
class CustomerIsClosed(Conflict):
    """Closed is terminal: every command on a closed customer is refused with this code."""

    code = "customer.is_closed"
    title = "The customer is closed"


@register
class CustomerNotEligibleForProduct(Conflict):
    """A Frozen or Closed customer may not attach a product (deposit account, credit facility), §4.3."""

    code = "customer.not_eligible_for_product"
    title = "The customer's status does not allow a new product"


class ClosePreconditionFailed(Conflict):
    """Close refused while something is still open (§4.2); each subclass's code names what."""

    code = "customer.close_precondition_failed"
    title = "The customer still has open products"


@register
class HasActiveCreditFacilities(ClosePreconditionFailed):
    code = "customer.has_active_credit_facilities"
    title = "The customer has credit facilities that are not closed"


@register
class HasPendingCreditFacilityProposals(ClosePreconditionFailed):
    code = "customer.has_pending_credit_facility_proposals"
    title = "The customer has credit facility proposals awaiting a decision"


@register
class HasPendingCreditFacilities(ClosePreconditionFailed):
    code = "customer.has_pending_credit_facilities"
    title = "The customer has pending credit facilities awaiting collateralization"


@register
class HasOpenDepositAccounts(ClosePreconditionFailed):
    code = "customer.has_open_deposit_accounts"
    title = "The customer has deposit accounts that are not closed"


@register
class HasPendingWithdrawals(ClosePreconditionFailed):
    code = "customer.has_pending_withdrawals"
    title = "The customer has withdrawals pending approval or confirmation"
