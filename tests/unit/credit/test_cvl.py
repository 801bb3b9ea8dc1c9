"""CVL formula and collateralization states (credit.md §3), worked examples of §3.2."""

from decimal import Decimal

import pytest

from domain.credit.cvl import (
    INFINITE_CVL,
    activation_cvl_threshold,
    collateralization_ratio,
    cvl,
    cvl_from_value,
    cvl_json,
    may_activate,
    next_state,
    pending_state,
    state_for_cvl,
)
from domain.credit.cvl import (
    CollateralizationState as S,
)
from domain.credit.cvl import (
    PendingCollateralizationState as P,
)
from tests.credit_fixtures import terms

T = terms()  # 140 / 125 / 105


@pytest.mark.parametrize(("price_usd", "value_cents", "expected_cvl", "state"), [
    (60_000, 150_000, 150, S.FULLY_COLLATERALIZED),
    (45_000, 112_500, 112, S.UNDER_MARGIN_CALL_THRESHOLD),
    (42_000, 105_000, 105, S.UNDER_MARGIN_CALL_THRESHOLD),  # boundary inclusive
    (41_900, 104_750, 104, S.UNDER_LIQUIDATION_THRESHOLD),
])
def test_worked_examples(price_usd, value_cents, expected_cvl, state):
    value = cvl(2_500_000, 100_000, price_usd * 100)
    assert value == Decimal(expected_cvl)
    assert cvl_from_value(value_cents, 100_000) == value
    assert state_for_cvl(value, T) is state


@pytest.mark.parametrize(("value", "amount", "expected"), [
    (125_000, 100_000, 125), (75_000, 100_000, 75), (130_999, 100_000, 130)])
def test_lana_checks(value, amount, expected):
    assert cvl_from_value(value, amount) == expected


def test_zero_and_infinite():
    assert cvl(0, 100_000, 6_000_000) == 0 and state_for_cvl(Decimal(0), T) is S.NO_COLLATERAL
    assert cvl(1, 100_000, 6_000_000) == 0  # 0.06 cents of value truncates to nothing
    assert cvl(2_500_000, 0, 6_000_000) == INFINITE_CVL
    assert cvl(0, 0, 6_000_000) == 0  # no collateral wins over no exposure, as in lana
    assert state_for_cvl(INFINITE_CVL, T) is S.NO_EXPOSURE
    assert INFINITE_CVL > Decimal(10**30)
    assert cvl_json(INFINITE_CVL) == {"infinite": True} and cvl_json(Decimal(140)) == {"value": "140"}


def test_hysteresis_needs_more_than_margin_call_plus_buffer():
    m = S.UNDER_MARGIN_CALL_THRESHOLD
    assert next_state(m, Decimal(130), T) is m
    assert next_state(m, Decimal(131), T) is S.FULLY_COLLATERALIZED
    assert next_state(S.FULLY_COLLATERALIZED, Decimal(124), T) is m  # downgrade immediate
    assert next_state(S.FULLY_COLLATERALIZED, Decimal(104), T) is S.UNDER_LIQUIDATION_THRESHOLD
    liq = S.UNDER_LIQUIDATION_THRESHOLD
    assert next_state(liq, Decimal(126), T) is S.FULLY_COLLATERALIZED  # no buffer out of liquidation
    assert next_state(liq, Decimal(126), T, liquidation_upgrade_blocked=True) is liq
    assert next_state(S.NO_EXPOSURE, Decimal(126), T) is S.FULLY_COLLATERALIZED
    assert next_state(S.FULLY_COLLATERALIZED, INFINITE_CVL, T) is S.NO_EXPOSURE
    assert next_state(m, INFINITE_CVL, T) is S.NO_EXPOSURE
    assert next_state(S.FULLY_COLLATERALIZED, Decimal(200), T, closed=True) is S.NO_COLLATERAL


def test_activation_threshold_is_initial_cvl():
    assert activation_cvl_threshold(T) == Decimal(140)
    assert pending_state(Decimal(139), T) is P.UNDER_COLLATERALIZED
    assert pending_state(Decimal(140), T) is P.FULLY_COLLATERALIZED
    # $1,000 facility at $60,000/BTC: required collateral 2,333,334 sats reaches exactly 140
    sats = T.required_collateral_sats(100_000, 6_000_000)
    assert may_activate(sats, 100_000, 6_000_000, T)
    assert not may_activate(sats - 2_000, 100_000, 6_000_000, T)


def test_collateralization_ratio():
    assert collateralization_ratio(2_500_000, 100_000) == Decimal(25)
    assert collateralization_ratio(1, 3) == Decimal("0.333333333333")
    assert collateralization_ratio(5, 0) == INFINITE_CVL


def test_reevaluate_at_a_price_applies_hysteresis():
    from domain.credit.cvl import reevaluate
    from tests.credit_fixtures import terms

    t = terms()  # margin call 125, liquidation 105; 0.1 BTC against $500: CVL = price_cents // 5,000
    assert reevaluate(S.FULLY_COLLATERALIZED, 10_000_000, 50_000, 600_000, t) == (120, S.UNDER_MARGIN_CALL_THRESHOLD)
    assert reevaluate(S.UNDER_MARGIN_CALL_THRESHOLD, 10_000_000, 50_000, 650_000, t)[1] is S.UNDER_MARGIN_CALL_THRESHOLD
    assert reevaluate(S.UNDER_MARGIN_CALL_THRESHOLD, 10_000_000, 50_000, 655_000, t)[1] is S.FULLY_COLLATERALIZED
    assert reevaluate(None, 10_000_000, 50_000, 650_000, t)[1] is S.FULLY_COLLATERALIZED  # no history yet
    assert reevaluate(S.FULLY_COLLATERALIZED, 10_000_000, 0, 650_000, t)[1] is S.NO_EXPOSURE
