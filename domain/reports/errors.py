"""Report refusals (stable codes; api-surface.md §11)."""

from __future__ import annotations

from domain.errors import LanaError, NotFound, ValidationFailed


class ReportDefinitionNotFound(NotFound):
    code = "report.definition_not_found"
    title = "Report definition not found"


class IdentityFieldsMissing(LanaError):
    code = "report.identity_fields_missing"
    status = 422
    title = "The report needs customer identity fields the bank does not store yet"


class InvalidReportRunRequest(ValidationFailed):
    code = "report.invalid_run_request"
    title = "Invalid report run request"


class ReportRunNotFound(NotFound):
    code = "report.run_not_found"
    title = "Report run not found"


class ReportNotFound(NotFound):
    code = "report.not_found"
    title = "Report or report file not found"
