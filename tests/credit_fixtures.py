"""Typical lana product terms (credit.md §2.1) for tests."""

from __future__ import annotations

from typing import Any

from domain.credit.terms import TermValues


def terms_json(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "annual_rate": "12",
        "duration": {"period": "MONTHS", "units": 3},
        "interest_due_duration_from_accrual": {"period": "DAYS", "units": 0},
        "obligation_overdue_duration_from_due": {"period": "DAYS", "units": 50},
        "obligation_liquidation_duration_from_due": {"period": "DAYS", "units": 360},
        "accrual_cycle_interval": "EndOfMonth",
        "accrual_interval": "EndOfDay",
        "one_time_fee_rate": "1",
        "liquidation_cvl": "105",
        "margin_call_cvl": "125",
        "initial_cvl": "140",
        "disbursal_policy": "MultipleDisbursal",
    }
    values.update(overrides)
    return values


def terms(**overrides: Any) -> TermValues:
    return TermValues.model_validate(terms_json(**overrides))
