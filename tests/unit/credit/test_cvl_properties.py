"""Hypothesis properties: CVL monotonicity, exactness, and no flapping inside the hysteresis buffer."""

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from domain.credit.cvl import UPGRADE_BUFFER, CollateralizationState, cvl, next_state, state_for_cvl
from domain.credit.money import SATS_PER_BTC
from tests.credit_fixtures import terms

T = terms()
sats = st.integers(min_value=0, max_value=21_000_000 * SATS_PER_BTC)
cents = st.integers(min_value=0, max_value=10**13)
prices = st.integers(min_value=1, max_value=10**9)
cvls = st.one_of(st.integers(min_value=0, max_value=1000).map(Decimal), st.just(Decimal("Infinity")))
states = st.sampled_from(list(CollateralizationState))


@given(sats, sats, cents, prices)
def test_more_collateral_never_lowers_cvl(a, b, amount, price):
    lo, hi = sorted((a, b))
    assert cvl(lo, amount, price) <= cvl(hi, amount, price)


@given(sats, prices, prices, cents)
def test_higher_price_never_lowers_cvl(collateral, p1, p2, amount):
    lo, hi = sorted((p1, p2))
    assert cvl(collateral, amount, lo) <= cvl(collateral, amount, hi)


@given(sats, cents, cents, prices)
def test_more_outstanding_never_raises_cvl(collateral, a1, a2, price):
    lo, hi = sorted((a1, a2))
    assert cvl(collateral, hi, price) <= cvl(collateral, lo, price)


@given(sats, st.integers(min_value=1, max_value=10**13), prices)
def test_cvl_is_the_truncated_exact_ratio(collateral, amount, price):
    value = cvl(collateral, amount, price)
    exact = Fraction(collateral * price // SATS_PER_BTC * 100, amount)
    if value != 0:
        assert value == value.to_integral_value() and int(value) <= exact < int(value) + 1


@given(st.sampled_from([CollateralizationState.FULLY_COLLATERALIZED,
                        CollateralizationState.UNDER_MARGIN_CALL_THRESHOLD]),
       st.lists(st.integers(min_value=125, max_value=130).map(Decimal), min_size=1, max_size=50))
def test_no_flapping_inside_the_buffer(start, walk):
    """Any walk within [margin_call, margin_call + buffer] never changes a Fully/MarginCall state."""
    assert T.margin_call_cvl + UPGRADE_BUFFER == 130
    state = start
    for value in walk:
        state = next_state(state, value, T)
    assert state is start


@given(states, cvls)
def test_transition_is_the_plain_state_or_held_by_the_buffer(previous, value):
    new = next_state(previous, value, T)
    plain = state_for_cvl(value, T)
    if new != plain:  # only the margin-call → fully upgrade may be held back
        assert previous is new is CollateralizationState.UNDER_MARGIN_CALL_THRESHOLD
        assert plain is CollateralizationState.FULLY_COLLATERALIZED
        assert T.margin_call_cvl <= value <= T.margin_call_cvl + UPGRADE_BUFFER


@given(st.lists(cvls, min_size=1, max_size=60))
def test_flips_need_a_move_wider_than_the_buffer(walk):
    """Between two consecutive Fully↔MarginCall changes the CVL moved by more than the buffer."""
    state, last_change_cvl = CollateralizationState.FULLY_COLLATERALIZED, None
    pair = {CollateralizationState.FULLY_COLLATERALIZED, CollateralizationState.UNDER_MARGIN_CALL_THRESHOLD}
    for value in walk:
        new = next_state(state, value, T)
        if new != state and {state, new} == pair:
            if last_change_cvl is not None and last_change_cvl.is_finite() and value.is_finite():
                assert abs(value - last_change_cvl) > UPGRADE_BUFFER
            last_change_cvl = value
        elif new != state:
            last_change_cvl = None
        state = new
