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
