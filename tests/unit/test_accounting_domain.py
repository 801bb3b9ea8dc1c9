import datetime as dt
import uuid

import pytest

from domain.accounting.fiscal import PnlBalance, closing_entries, next_month_to_close
from domain.accounting.money import to_major, to_minor
from domain.ledger import catalogue
from domain.ledger.errors import UnbalancedTransaction
from domain.ledger.model import Direction

A, B, C, N = (uuid.uuid4() for _ in range(4))


def test_amounts_are_exact_and_refuse_extra_decimals():
    assert to_minor("12.3", "USD") == 1230 and to_minor("0.00000001", "BTC") == 1
    assert to_minor("1.10", "USD") == 110 and to_major(-1230, "USD") == "-12.30" and to_major(1, "BTC") == "0.00000001"
    assert to_minor("92233720368547758.07", "USD") == 2**63 - 1
    # 29+ significant digits used to raise decimal.InvalidOperation (a 500 through the API)
    for bad in ("1.001", "x", "NaN", "Infinity", "1" * 29, "0." + "0" * 30 + "1", "1" * 20 + ".5", "92233720368547758.08"):
        with pytest.raises(ValueError):
            to_minor(bad, "USD")


def test_month_sequence():
    assert next_month_to_close(dt.date(2024, 1, 15), None) == dt.date(2024, 1, 31)
    assert next_month_to_close(dt.date(2024, 1, 15), dt.date(2024, 1, 31)) == dt.date(2024, 2, 29)
    assert next_month_to_close(dt.date(2024, 1, 15), dt.date(2024, 12, 31)) is None


def test_closing_entries_spec_example():
    """accounting.md §7.3: revenue 1,000 Cr; expense 300 Dr; contra expense 50 Cr → net 750 Cr."""
    entries, net = closing_entries([PnlBalance(A, "credit", "USD", 1000), PnlBalance(B, "debit", "USD", 300),
                                    PnlBalance(C, "credit", "USD", 50)], N)
    assert [(e.account_id, e.direction, e.units) for e in entries] == [
        (A, Direction.DEBIT, 1000), (B, Direction.CREDIT, 300), (C, Direction.DEBIT, 50), (N, Direction.CREDIT, 750)]
    assert net == {"USD": 750}
    loss, net = closing_entries([PnlBalance(B, "debit", "USD", 300), PnlBalance(A, "credit", "USD", -20)], N)
    assert net == {"USD": -320} and loss[-1].direction == Direction.DEBIT and loss[1].direction == Direction.CREDIT


def test_manual_template_checks_balance():
    tpl = catalogue.template("MANUAL_TRANSACTION")
    ok = [{"account_id": str(A), "units": 5, "currency": "USD", "direction": "debit"},
          {"account_id": str(B), "units": 5, "currency": "USD", "direction": "credit"}]
    _, spec = tpl.evaluate({"entries": ok, "description": "d", "reference": "r"})
    assert [e.entry_type for e in spec.entries] == ["MANUAL_DR", "MANUAL_CR"] and spec.external_id == "manual:r"
    with pytest.raises(UnbalancedTransaction):
        tpl.evaluate({"entries": [ok[0], {**ok[1], "units": 4}], "description": "d", "reference": "r"})
