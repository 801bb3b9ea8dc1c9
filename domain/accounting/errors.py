"""Accounting errors (stable codes ``accounting.*``)."""

from __future__ import annotations

from domain.errors import Conflict, NotFound, ValidationFailed, register


@register
class InvalidChartCsv(ValidationFailed):
    """The CSV was rejected as a whole; ``errors`` lists ``{row, reason}`` (1-based rows)."""

    code = "accounting.invalid_chart_csv"
    title = "Chart of accounts CSV rejected"


@register
class InvalidAccountCode(ValidationFailed):
    code = "accounting.invalid_account_code"
    title = "Invalid account code"


@register
class InvalidParent(ValidationFailed):
    code = "accounting.invalid_parent"
    title = "Code is not a descendant of the given parent"


@register
class ParentAccountNotFound(NotFound):
    code = "accounting.parent_account_not_found"
    title = "Parent chart node not found"


@register
class CodeNotFoundInChart(ValidationFailed):
    code = "accounting.code_not_found_in_chart"
    title = "Code not found in the chart of accounts"


@register
class ChartNodeNotFound(NotFound):
    code = "accounting.chart_node_not_found"
    title = "Chart node not found"


@register
class InvalidBaseConfig(ValidationFailed):
    code = "accounting.invalid_base_config"
    title = "Invalid accounting base config"


@register
class BaseConfigAlreadySet(Conflict):
    code = "accounting.base_config_already_initialized_with_different_config"
    title = "Base config already set to a different value"


@register
class BaseConfigNotFound(ValidationFailed):
    code = "accounting.accounting_base_config_not_found"
    title = "The chart has no base config"


@register
class InvalidModuleConfig(ValidationFailed):
    code = "accounting.invalid_module_config"
    title = "Invalid module (integration) config"


@register
class InvalidAccountCategory(ValidationFailed):
    code = "accounting.invalid_account_category"
    title = "Code is not in the required category"


@register
class ModuleConfigAlreadySet(Conflict):
    code = "accounting.config_already_set"
    title = "Module config already set"


@register
class PeriodClosed(ValidationFailed):
    code = "accounting.period_closed"
    title = "Posting into a closed period"


@register
class FiscalYearNotOpen(ValidationFailed):
    code = "accounting.fiscal_year_not_open"
    title = "No open fiscal year covers the effective date"


@register
class FiscalYearNotFound(NotFound):
    code = "accounting.fiscal_year_not_found"
    title = "Fiscal year not found"


@register
class MonthHasNotEnded(ValidationFailed):
    code = "accounting.month_has_not_ended"
    title = "The month to close has not ended"


@register
class AllMonthsClosed(ValidationFailed):
    code = "accounting.all_months_closed"
    title = "Every month of the fiscal year is closed"


@register
class LastMonthNotClosed(ValidationFailed):
    code = "accounting.last_month_not_closed"
    title = "December must be closed before the year"


@register
class FiscalYearWithInvalidOpenedAsOf(ValidationFailed):
    code = "accounting.fiscal_year_with_invalid_opened_as_of"
    title = "The next fiscal year cannot be opened yet"


@register
class InvalidManualTransaction(ValidationFailed):
    code = "accounting.invalid_manual_transaction"
    title = "Invalid manual transaction"


@register
class UnknownAccount(ValidationFailed):
    code = "accounting.unknown_account"
    title = "Unknown account"


@register
class NonLeafAccount(ValidationFailed):
    code = "accounting.non_leaf_account"
    title = "Manual transactions post only to leaf chart nodes"


@register
class ManualTransactionNotFound(NotFound):
    code = "accounting.manual_transaction_not_found"
    title = "Manual transaction not found"
