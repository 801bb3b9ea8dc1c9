"""TermValues validation (credit.md §2.2) and derived values (§2.3)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.credit.money import InexactAmount, cents_to_sats_round_up, sats_to_cents_round_down, usd_to_cents
from domain.credit.terms import DurationClass, InvalidTermValues, add_months, validate_term_values
from domain.credit.terms_template import TermsTemplate
from tests.credit_fixtures import terms


def fields(exc: InvalidTermValues) -> list[tuple[str, str]]:
    return [(e["field"], e["error"]) for e in exc.extra["errors"]]


def test_typical_terms_are_valid():
    t = terms()
    assert validate_term_values(t) is t


@pytest.mark.parametrize(("initial", "margin", "liquidation", "expected"), [
    ("125", "125", "105", [("margin_call_cvl", "margin_call_above_initial_limit")]),
    ("140", "105", "105", [("margin_call_cvl", "margin_call_below_liquidation_limit")]),
    ("120", "125", "130", [("margin_call_cvl", "margin_call_above_initial_limit"),
                           ("margin_call_cvl", "margin_call_below_liquidation_limit")]),
])
def test_cvl_hierarchy_is_strict(initial, margin, liquidation, expected):
    with pytest.raises(InvalidTermValues) as info:
        validate_term_values(terms(initial_cvl=initial, margin_call_cvl=margin, liquidation_cvl=liquidation))
    assert fields(info.value) == expected
    assert info.value.code == "credit.invalid_term_values" and info.value.status == 422
    assert info.value.extra["field"] == "margin_call_cvl"


def test_every_broken_field_is_reported():
    bad = terms(annual_rate="-1", one_time_fee_rate="100", duration={"period": "MONTHS", "units": 0},
                obligation_overdue_duration_from_due={"period": "DAYS", "units": 30},
                obligation_liquidation_duration_from_due={"period": "DAYS", "units": 10},
                accrual_interval="EndOfMonth", accrual_cycle_interval="EndOfDay", liquidation_cvl="0",
                margin_call_cvl="50")
    with pytest.raises(InvalidTermValues) as info:
        validate_term_values(bad)
    assert [f for f, _ in fields(info.value)] == [
        "annual_rate", "one_time_fee_rate", "duration", "obligation_liquidation_duration_from_due",
        "accrual_interval", "liquidation_cvl"]


def test_non_finite_rates_are_rejected():
    with pytest.raises((InvalidTermValues, ValidationError)):
        validate_term_values(terms(annual_rate="NaN"))


def test_wrong_period_and_missing_fields_are_type_errors():
    with pytest.raises(ValidationError):
        terms(duration={"period": "DAYS", "units": 3})
    with pytest.raises(ValidationError):
        terms(obligation_overdue_duration_from_due={"period": "MONTHS", "units": 3})
    values = terms().model_dump()
    values.pop("obligation_overdue_duration_from_due")
    with pytest.raises(ValidationError):
        type(terms()).model_validate(values)  # nullable, but must be supplied


def test_nullable_obligation_durations():
    t = terms(obligation_overdue_duration_from_due=None, obligation_liquidation_duration_from_due=None)
    assert validate_term_values(t) is t


def test_duration_class_twelve_months_is_short_term():
    assert terms(duration={"period": "MONTHS", "units": 12}).duration_class is DurationClass.SHORT_TERM
    assert terms(duration={"period": "MONTHS", "units": 13}).duration_class is DurationClass.LONG_TERM


def test_maturity_date_clamps_to_month_end():
    t = terms()
    assert t.maturity_date(datetime(2024, 12, 3, 14, tzinfo=UTC)) == date(2025, 3, 3)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2023, 11, 30), 14) == date(2025, 1, 30)


@pytest.mark.parametrize(("rate", "fee", "months", "expected"), [
    ("12", "1", 3, "16"), ("10", "2", 12, "12"), ("10", "3", 36, "11")])
def test_effective_annual_rate(rate, fee, months, expected):
    t = terms(annual_rate=rate, one_time_fee_rate=fee, duration={"period": "MONTHS", "units": months})
    assert t.effective_annual_rate == Decimal(expected)


def test_required_collateral_examples():
    t = terms()
    assert t.required_collateral_sats(100_000, 100_000) == 140_000_000  # $1,000 at $1,000/BTC
    assert t.required_collateral_sats(100_000, 6_000_000) == 2_333_334  # $1,400 at $60,000/BTC


def test_fee_rounds_up_to_whole_cents():
    assert terms(one_time_fee_rate="1").one_time_fee_cents(100_001) == 1001  # 1000.01 → 1001
    assert terms(one_time_fee_rate="0").has_one_time_fee is False


def test_money_rounding_primitives():
    assert sats_to_cents_round_down(2_500_000, 4_190_000) == 104_750
    assert sats_to_cents_round_down(1, 6_000_000) == 0  # 0.06 cents truncated
    assert cents_to_sats_round_up(1, 6_000_000) == 17  # 16.67 sats rounded up
    assert usd_to_cents(Decimal("16809")) == 1_680_900
    with pytest.raises(InexactAmount):
        usd_to_cents(Decimal("1.001"))


def test_template_update_is_a_no_op_when_identical_and_copies_are_independent():
    template = TermsTemplate.create("t1", "  Standard  ", terms(), "user:x")
    assert template.name == "Standard"
    copy = template.values  # what a proposal stores
    template.pending.clear()
    assert template.update_values(terms(), "user:x") is False and template.pending == []
    assert template.update_values(terms(annual_rate="10"), "user:x") is True
    assert copy.annual_rate == Decimal("12") and template.values.annual_rate == Decimal("10")
    with pytest.raises(InvalidTermValues):
        template.update_values(terms(initial_cvl="100"), "user:x")


def test_terms_stored_before_the_day_count_existed_keep_act_365_fixed():
    from domain.credit.terms import DayCountConvention, TermValues

    stored = terms().model_dump(mode="json")
    del stored["day_count_convention"]
    assert TermValues.model_validate(stored).day_count_convention is DayCountConvention.ACT_365_FIXED
    assert terms(day_count_convention="act_360").day_count_convention is DayCountConvention.ACT_360
    with pytest.raises(ValidationError):
        terms(day_count_convention="30_360")
