"""The statement's running-balance fold (``domain/credit/statement.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.credit.statement import Balances, Line, Movement, kind_of, running

T = datetime(2025, 1, 15, tzinfo=UTC)


def _m(role: str, direction: str, units: int, layer: str = "settled", normal: str = "debit") -> Movement:
    return Movement(role, layer, direction, normal, units)


def _line(kind: str, *moves: Movement, code: str | None = "X") -> Line:
    return Line(date(2025, 1, 15), T, kind, "1" * 10 + "0" * 36 if code else "1", code, tuple(moves))


def test_each_template_moves_its_figure():
    lines = [
        _line("collateral_added", _m("collateral", "debit", 100)),
        _line("disbursal_settled", _m("disbursed_receivable_not_yet_due", "debit", 1_000)),
        _line("interest_accrued", _m("interest_receivable_not_yet_due", "debit", 7, "pending")),
        _line("interest_accrued", _m("interest_receivable_not_yet_due", "debit", 7, "pending")),
        _line("interest_posted", _m("interest_receivable_not_yet_due", "credit", 14, "pending"),
              _m("interest_receivable_not_yet_due", "debit", 14)),
        _line("obligation_due", _m("interest_receivable_due", "debit", 14),
              _m("interest_receivable_not_yet_due", "credit", 14)),
        _line("payment", _m("payment_holding", "credit", 20, normal="credit")),
        _line("payment_allocation", _m("payment_holding", "debit", 14, normal="credit"),
              _m("interest_receivable_due", "credit", 14)),
        _line("obligation_defaulted", _m("disbursed_defaulted", "debit", 1_000),
              _m("disbursed_receivable_not_yet_due", "credit", 1_000)),
        _line("collateralization_changed", code=None),
        _line("collateral_removed", _m("collateral", "credit", 40), _m("collateral", "debit", 3, "encumbrance")),
    ]
    got = [(s.balances.principal, s.balances.interest, s.balances.total, s.balances.accrued, s.balances.defaulted,
            s.balances.collateral) for s in running(Balances(), lines)]
    assert got == [
        (0, 0, 0, 0, 0, 100), (1_000, 0, 1_000, 0, 0, 100), (1_000, 0, 1_000, 7, 0, 100),
        (1_000, 0, 1_000, 14, 0, 100), (1_000, 14, 1_014, 0, 0, 100), (1_000, 14, 1_014, 0, 0, 100),
        (1_000, 14, 1_014, 0, 0, 100), (1_000, 0, 1_000, 0, 0, 100), (0, 0, 0, 0, 1_000, 100),
        (0, 0, 0, 0, 1_000, 100), (0, 0, 0, 0, 1_000, 60)]


def test_amount_currency_and_kinds():
    alloc = _line("payment_allocation", _m("payment_holding", "debit", 14, normal="credit"),
                  _m("interest_receivable_due", "credit", 14))
    assert (alloc.amount, alloc.currency, alloc.transaction_id) == (14, "USD", "0" * 36)
    coll = _line("collateral_added", _m("collateral", "debit", 5))
    assert (coll.amount, coll.currency) == (5, "BTC")
    state = _line("collateralization_changed", code=None)
    assert (state.amount, state.currency, state.transaction_id) == (0, None, None)
    assert kind_of("RECORD_PAYMENT_ALLOCATION") == "payment_allocation"
    assert kind_of("RECORD_LIQUIDATION_PROCEEDS") == "record_liquidation_proceeds"  # unknown: its own code


def test_running_from_an_opening():
    opening = Balances(principal=500, interest=3, accrued=2, defaulted=1, collateral=9)
    [s] = list(running(opening, [_line("interest_accrued", _m("interest_receivable_not_yet_due", "debit", 4,
                                                                "pending"))]))
    assert s.balances == Balances(500, 3, 6, 1, 9) and s.balances.total == 503
