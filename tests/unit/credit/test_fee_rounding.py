"""The one-time fee is exact whatever the rate's number of decimals (defects #12)."""

import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from domain.credit.money import percent_of_cents_round_up


def test_a_rate_with_many_decimals_does_not_lose_a_cent():
    # 100 cents at 1.000…001 % (41 significant digits): the exact fee is just above 1 cent, so 2.
    # A Decimal product rounds to 28 digits first and answered 1.
    assert percent_of_cents_round_up(100_00, Decimal("1." + "0" * 39 + "1")) == 101


rates = st.builds(lambda digits, scale: Decimal(digits).scaleb(-scale),
                  st.integers(min_value=0, max_value=10**45), st.integers(min_value=0, max_value=60))


@given(cents=st.integers(min_value=0, max_value=10**15), pct=rates)
def test_fee_is_the_exact_ceiling(cents, pct):
    exact = Fraction(cents) * Fraction(pct) / 100
    assert percent_of_cents_round_up(cents, pct) == math.ceil(exact)
