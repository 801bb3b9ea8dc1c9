"""Total outstanding (credit.md §3.1) and the trigger prices of the set-based price pass: a price
event selects a facility exactly when ``reevaluate`` would change its state (hysteresis included)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.credit.cvl import (
    CollateralizationState,
    TriggerPrices,
    cvl,
    may_activate,
    pending_trigger_prices,
    price_for_cvl,
    reevaluate,
    total_outstanding,
    trigger_prices,
)
from domain.credit.money import SATS_PER_BTC
from tests.credit_fixtures import terms

S = CollateralizationState
T = terms()  # 140 / 125 / 105
sats = st.integers(min_value=0, max_value=50 * SATS_PER_BTC)
cents = st.integers(min_value=0, max_value=10**10)
prices = st.integers(min_value=1, max_value=10**9)
states = st.sampled_from(list(CollateralizationState))


def test_total_outstanding_counts_posted_interest_not_defaulted():
    assert total_outstanding(principal_not_yet_due=60_000, principal_due=20_000, principal_overdue=10_000,
                             interest_not_yet_due=1_000, interest_due=500, interest_overdue=250) == 91_750
    assert total_outstanding() == 0
    with pytest.raises(ValueError):
        total_outstanding(interest_due=-1)


def test_worked_example_trigger_prices():
    """§3.2: 0.025 BTC against $1,000: CVL 125 (margin call) from $50,000, 105 from $42,000."""
    assert price_for_cvl(125, 2_500_000, 100_000) == 5_000_000
    assert price_for_cvl(105, 2_500_000, 100_000) == 4_200_000
    fully = trigger_prices(S.FULLY_COLLATERALIZED, 2_500_000, 100_000, T)
    assert fully == TriggerPrices(down=4_999_999, up=None)
    assert not fully.crossed(5_000_000) and fully.crossed(4_999_999)
    # in margin call: down at liquidation (< 105), up only at CVL 131 (> 125 + 5): $52,400
    margin = trigger_prices(S.UNDER_MARGIN_CALL_THRESHOLD, 2_500_000, 100_000, T)
    assert margin == TriggerPrices(down=4_199_999, up=5_240_000)
    assert cvl(2_500_000, 100_000, 5_239_999) == 130 and cvl(2_500_000, 100_000, 5_240_000) == 131
    liquidation = trigger_prices(S.UNDER_LIQUIDATION_THRESHOLD, 2_500_000, 100_000, T)
    assert liquidation.up == 4_200_000  # no buffer out of liquidation


def test_edge_triggers():
    assert trigger_prices(S.NO_COLLATERAL, 0, 100_000, T) == TriggerPrices()
    assert trigger_prices(S.FULLY_COLLATERALIZED, 0, 100_000, T) == TriggerPrices(up=0)
    assert trigger_prices(S.NO_EXPOSURE, 2_500_000, 0, T) == TriggerPrices(down=39)  # 0.025 BTC is worth a cent from 40 ¢
    assert trigger_prices(S.FULLY_COLLATERALIZED, 2_500_000, 0, T) == TriggerPrices(up=0)  # activated, no draw
    assert pending_trigger_prices(0, 100_000, T) == TriggerPrices()
    assert pending_trigger_prices(2_500_000, 100_000, T) == TriggerPrices(up=5_600_000)  # CVL 140


@given(states, sats, cents, prices)
def test_triggers_agree_with_reevaluate_at_every_price(previous, collateral, outstanding, price):
    _, new = reevaluate(previous, collateral, outstanding, price, T)
    assert trigger_prices(previous, collateral, outstanding, T).crossed(price) is (new is not previous)


@given(states, sats, cents, prices)
def test_a_changed_state_holds_at_the_price_that_changed_it(previous, collateral, outstanding, price):
    """The pass updates each crossed facility's triggers: at that price it is never crossed again."""
    _, new = reevaluate(previous, collateral, outstanding, price, T)
    assert not trigger_prices(new, collateral, outstanding, T).crossed(price)


@given(sats, st.integers(min_value=1, max_value=10**10), prices)
def test_pending_trigger_is_the_activation_price(collateral, amount, price):
    assert pending_trigger_prices(collateral, amount, T).crossed(price) is may_activate(collateral, amount, price, T)


@given(st.integers(min_value=1, max_value=2000), st.integers(min_value=1, max_value=50 * SATS_PER_BTC),
       st.integers(min_value=1, max_value=10**10))
def test_price_for_cvl_is_the_least_such_price(percent, collateral, amount):
    p = price_for_cvl(percent, collateral, amount)
    assert cvl(collateral, amount, p) >= percent
    assert p == 0 or cvl(collateral, amount, p - 1) < percent


@given(st.sampled_from([S.FULLY_COLLATERALIZED, S.UNDER_MARGIN_CALL_THRESHOLD]), sats.filter(bool),
       st.integers(min_value=1, max_value=10**10), st.lists(prices, min_size=1, max_size=30))
def test_price_walk_through_triggers_matches_reevaluation(start, collateral, outstanding, walk):
    """Following the stored triggers (what the pass does) gives the same states as re-evaluating
    every facility at every price."""
    via_triggers = via_reevaluation = start
    for price in walk:
        if trigger_prices(via_triggers, collateral, outstanding, T).crossed(price):
            via_triggers = reevaluate(via_triggers, collateral, outstanding, price, T)[1]
        via_reevaluation = reevaluate(via_reevaluation, collateral, outstanding, price, T)[1]
        assert via_triggers is via_reevaluation


def test_fractional_thresholds_round_to_whole_percents():
    t = terms(margin_call_cvl=Decimal("125.5"), liquidation_cvl=Decimal("105.2"))
    # CVL >= 125.5 means >= 126; leaving margin call needs > 130.5, i.e. 131
    assert trigger_prices(S.FULLY_COLLATERALIZED, 2_500_000, 100_000, t).down == price_for_cvl(126, 2_500_000,
                                                                                              100_000) - 1
    assert trigger_prices(S.UNDER_MARGIN_CALL_THRESHOLD, 2_500_000, 100_000, t) == TriggerPrices(
        down=price_for_cvl(106, 2_500_000, 100_000) - 1, up=price_for_cvl(131, 2_500_000, 100_000))
