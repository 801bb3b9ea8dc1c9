"""TermValues: the twelve loan terms of credit.md §2, their validation and derived values.

A proposal / facility **copies** its TermValues at creation (pure value semantics): the model is
frozen, and a terms template change never reaches a facility that already holds a copy (§2.5).

The interest day count (``day_count_convention``) is a term too, Act/365F unless a product says
otherwise. Rates and CVLs are exact ``Decimal`` percentages (``12`` = 12 %). Validation collects every broken
rule and raises one ``InvalidTermValues`` whose ``errors`` name each field.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.credit.allocation import AllocationStrategy
from domain.credit.money import cents_to_sats_round_up, percent_of_cents_round_up
from domain.errors import ValidationFailed, register


class InterestInterval(StrEnum):
    END_OF_MONTH = "EndOfMonth"
    END_OF_DAY = "EndOfDay"


class DayCountConvention(StrEnum):
    """How a period's days become a fraction of a year (credit.md §6.4: lana uses actual/365 fixed)."""

    ACT_365_FIXED = "act_365_fixed"  # days / 365, leap years included (lana)
    ACT_360 = "act_360"  # days / 360 (money-market products)
    ACT_ACT_ISDA = "act_act_isda"  # days in each calendar year / that year's length (365 or 366)


class DisbursalPolicy(StrEnum):
    SINGLE = "SingleDisbursal"
    MULTIPLE = "MultipleDisbursal"


class DurationClass(StrEnum):
    SHORT_TERM = "ShortTerm"
    LONG_TERM = "LongTerm"


class FacilityDuration(BaseModel):
    """Facility lifetime; months are the only period (admin input ``{period: MONTHS, units: n}``)."""

    model_config = ConfigDict(frozen=True)
    period: Literal["MONTHS"] = "MONTHS"
    units: int


class ObligationDuration(BaseModel):
    """Days after a due date (or after an accrual cycle end); days are the only period."""

    model_config = ConfigDict(frozen=True)
    period: Literal["DAYS"] = "DAYS"
    units: int


class TermValues(BaseModel):
    """Every field is required; the two obligation durations are nullable but must be given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    annual_rate: Decimal = Field(description="Nominal yearly interest rate, percent")
    duration: FacilityDuration
    interest_due_duration_from_accrual: ObligationDuration
    obligation_overdue_duration_from_due: ObligationDuration | None
    # Spec rule (credit.md §15 #5): the obligation defaults (and becomes liquidation-eligible) here.
    obligation_liquidation_duration_from_due: ObligationDuration | None
    accrual_cycle_interval: InterestInterval
    accrual_interval: InterestInterval
    one_time_fee_rate: Decimal = Field(description="Structuring fee, percent of the facility amount")
    liquidation_cvl: Decimal
    margin_call_cvl: Decimal
    initial_cvl: Decimal
    disbursal_policy: DisbursalPolicy
    # Lana's customer-decision step (credit.md §4.2, CR5). False when absent: terms stored before the
    # step existed (rows, events, workflow histories) keep today's path. A request's terms default
    # to True instead (``NewTermValues``): a new product asks for the customer's acceptance.
    customer_acceptance_required: bool = Field(
        default=False, description="The proposal waits for the customer's acceptance before governance approval")
    # The interest day count (issue 17): absent in terms stored before it existed, which keep lana's
    # actual/365 fixed; any product may choose another convention.
    day_count_convention: DayCountConvention = Field(
        default=DayCountConvention.ACT_365_FIXED, description="Day count of the interest accrual (default Act/365F)")
    # The order a payment pays obligations in (credit.md §8.2, issue 18): lana's interest-first by
    # default (also for terms stored before the field existed), or the documented tiered variant.
    payment_allocation_strategy: AllocationStrategy = Field(
        default=AllocationStrategy.INTEREST_FIRST,
        description="Payment allocation order: interest_first (lana) or tiered (defaulted, overdue, due, not yet due)")

    # -- derived values (§2.3) ------------------------------------------------------------------
    @property
    def duration_class(self) -> DurationClass:
        return DurationClass.LONG_TERM if self.duration.units > 12 else DurationClass.SHORT_TERM

    def maturity_date(self, activated_on: date) -> date:
        """From the activation's business date (a datetime counts by its own date)."""
        day = activated_on.date() if isinstance(activated_on, datetime) else activated_on
        return add_months(day, self.duration.units)

    @property
    def effective_annual_rate(self) -> Decimal:
        months = self.duration.units
        return self.annual_rate + (self.one_time_fee_rate * 12 / months if months else 0)

    def required_collateral_sats(self, principal_cents: int, price_cents: int) -> int:
        """Sats to ask for: ``cents_to_sats_round_up(scale(initial_cvl, principal), price)``."""
        return cents_to_sats_round_up(percent_of_cents_round_up(principal_cents, self.initial_cvl), price_cents)

    def one_time_fee_cents(self, amount_cents: int) -> int:
        return percent_of_cents_round_up(amount_cents, self.one_time_fee_rate)

    @property
    def is_single_disbursal(self) -> bool:
        return self.disbursal_policy is DisbursalPolicy.SINGLE

    @property
    def has_one_time_fee(self) -> bool:
        return self.one_time_fee_rate > 0

    def is_disbursal_allowed(self, cvl: Decimal) -> bool:
        return cvl >= self.margin_call_cvl


class NewTermValues(TermValues):
    """TermValues as a request gives them (proposal, terms template): a new product asks for the
    customer's acceptance unless ``customer_acceptance_required`` says false."""

    customer_acceptance_required: bool = Field(
        default=True, description="The proposal waits for the customer's acceptance before governance approval")


def _as_term_values(t: TermValues) -> TermValues:
    return TermValues.model_validate(t.model_dump())


# The request field's type: validated with the new-product default, then a plain ``TermValues``.
TermValuesInput = Annotated[NewTermValues, AfterValidator(_as_term_values)]


def add_months(d: date, months: int) -> date:
    """Calendar months, clamped to the month end (Jan 31 + 1 month = Feb 28/29)."""
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@register
class InvalidTermValues(ValidationFailed):
    code = "credit.invalid_term_values"
    title = "Invalid term values"


MAX_RATE_PCT = Decimal(100)
MAX_DURATION_MONTHS = 1200
MAX_OBLIGATION_DAYS = 36_500
_ORDER = {InterestInterval.END_OF_DAY: 0, InterestInterval.END_OF_MONTH: 1}


def term_value_errors(t: TermValues) -> list[dict[str, str]]:
    """Every broken rule as ``{"field", "error", "msg"}``; empty when the terms are valid."""
    errors: list[dict[str, str]] = []

    def bad(field: str, error: str, msg: str) -> None:
        errors.append({"field": field, "error": error, "msg": msg})

    for name in ("annual_rate", "one_time_fee_rate", "liquidation_cvl", "margin_call_cvl", "initial_cvl"):
        if not getattr(t, name).is_finite():
            bad(name, "not_finite", f"{name} must be a finite decimal")
    if errors:
        return errors
    if not Decimal(0) <= t.annual_rate <= MAX_RATE_PCT:
        bad("annual_rate", "out_of_range", f"annual_rate must be between 0 and {MAX_RATE_PCT} percent")
    if not Decimal(0) <= t.one_time_fee_rate < MAX_RATE_PCT:
        bad("one_time_fee_rate", "out_of_range", f"one_time_fee_rate must be >= 0 and < {MAX_RATE_PCT} percent")
    if not 1 <= t.duration.units <= MAX_DURATION_MONTHS:
        bad("duration", "out_of_range", f"duration must be 1..{MAX_DURATION_MONTHS} months")
    for name in ("interest_due_duration_from_accrual", "obligation_overdue_duration_from_due",
                 "obligation_liquidation_duration_from_due"):
        d = getattr(t, name)
        if d is not None and not 0 <= d.units <= MAX_OBLIGATION_DAYS:
            bad(name, "out_of_range", f"{name} must be 0..{MAX_OBLIGATION_DAYS} days")
    overdue, liquidation = t.obligation_overdue_duration_from_due, t.obligation_liquidation_duration_from_due
    if overdue is not None and liquidation is not None and liquidation.units < overdue.units:
        bad("obligation_liquidation_duration_from_due", "before_overdue",
            "the liquidation (default) duration must not be shorter than the overdue duration")
    if _ORDER[t.accrual_interval] > _ORDER[t.accrual_cycle_interval]:
        bad("accrual_interval", "coarser_than_cycle", "accrual_interval must not be coarser than the cycle")
    if t.liquidation_cvl <= 0:
        bad("liquidation_cvl", "out_of_range", "liquidation_cvl must be positive")
    if not t.initial_cvl > t.margin_call_cvl:
        bad("margin_call_cvl", "margin_call_above_initial_limit",
            f"margin_call_cvl {t.margin_call_cvl} must be strictly below initial_cvl {t.initial_cvl}")
    if not t.margin_call_cvl > t.liquidation_cvl:
        bad("margin_call_cvl", "margin_call_below_liquidation_limit",
            f"margin_call_cvl {t.margin_call_cvl} must be strictly above liquidation_cvl {t.liquidation_cvl}")
    return errors


def validate_term_values(t: TermValues) -> TermValues:
    """Return ``t`` if valid, else raise ``InvalidTermValues`` listing every problem."""
    errors = term_value_errors(t)
    if errors:
        detail = "; ".join(e["msg"] for e in errors)
        raise InvalidTermValues(detail, field=errors[0]["field"], errors=errors)
    return t
