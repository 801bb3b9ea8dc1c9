"""Credit templates (ledger.md B5.2–B5.4, B5.8): facility creation/activation, disbursals, fee,
collateral. Listed in ``TEMPLATES``; ``domain/ledger/catalogue.py`` registers them.

Roles: FAC (facility remaining limit, off-balance, credit-normal, settled ≥ 0 control = the
disbursal limit), FAC_OMNI, UNCOV (uncovered outstanding), DR_NYD (disbursed receivable not yet
due), CUST_DEP (the customer's deposit account), FEE_INC, COLL / COLL_OMNI (BTC, in sats).
"""

from __future__ import annotations

from domain.ledger.model import Currency, Entry, Layer
from domain.ledger.templates import AMOUNT, CR, DR, ID, PENDING, SETTLED, entry, template

USD, BTC = Currency.USD, Currency.BTC


def _move(debit, credit, amount: int, currency: Currency, layer: Layer, tag: str) -> list[Entry]:
    """``amount`` from ``debit`` to ``credit`` on one layer (entry types ``{tag}_DR`` / ``{tag}_CR``)."""
    return [entry(debit, amount, currency, DR, layer, f"{tag}_DR"),
            entry(credit, amount, currency, CR, layer, f"{tag}_CR")]


def _swing(code: str, amount: int, x, y, first: Layer, second: Layer) -> list[Entry]:
    """``x`` → ``y`` on ``first`` and back on ``second``: an amount moves from one layer to the other."""
    return (_move(x, y, amount, USD, first, f"{code}_{first.name}")
            + _move(y, x, amount, USD, second, f"{code}_{second.name}"))


_FACILITY = {"facility_omnibus_account_id": ID, "facility_account_id": ID, "amount": AMOUNT}


@template("CREATE_CREDIT_FACILITY_PROPOSAL", _FACILITY, description="Create credit facility")
def create_credit_facility_proposal(p):
    return _move(p["facility_omnibus_account_id"], p["facility_account_id"], p["amount"], USD, PENDING,
                 "CREATE_CREDIT_FACILITY_PROPOSAL")


@template("ACTIVATE_CREDIT_FACILITY", _FACILITY, description="Activate credit facility")
def activate_credit_facility(p):
    return _swing("ACTIVATE_CREDIT_FACILITY", p["amount"], p["facility_account_id"], p["facility_omnibus_account_id"],
                  PENDING, SETTLED)


_COLLATERAL = {"collateral_omnibus_account_id": ID, "collateral_account_id": ID, "amount": AMOUNT}


@template("ADD_COLLATERAL", _COLLATERAL, description="Add collateral")
def add_collateral(p):
    return _move(p["collateral_omnibus_account_id"], p["collateral_account_id"], p["amount"], BTC, SETTLED,
                 "ADD_COLLATERAL")


@template("REMOVE_COLLATERAL", _COLLATERAL, description="Remove collateral")
def remove_collateral(p):
    return _move(p["collateral_account_id"], p["collateral_omnibus_account_id"], p["amount"], BTC, SETTLED,
                 "REMOVE_COLLATERAL")


_DRAW = {"facility_account_id": ID, "uncovered_outstanding_account_id": ID, "amount": AMOUNT}
_SETTLE = {**_DRAW, "disbursed_receivable_account_id": ID, "deposit_account_id": ID}


def _to_customer(p, tag: str) -> list[Entry]:
    """The receivable is debited and the customer's deposit account credited (settled)."""
    return _move(p["disbursed_receivable_account_id"], p["deposit_account_id"], p["amount"], USD, SETTLED, tag)


@template("INITIAL_DISBURSAL", _SETTLE, description="Initial disbursal")
def initial_disbursal(p):
    return (_move(p["facility_account_id"], p["uncovered_outstanding_account_id"], p["amount"], USD, SETTLED,
                  "SINGLE_DISBURSAL_DRAWDOWN") + _to_customer(p, "SINGLE_DISBURSAL_RECEIVABLE"))


@template("INITIATE_CREDIT_FACILITY_DISBURSAL", _DRAW, description="Initiate credit facility disbursal")
def initiate_disbursal(p):
    return _swing("INITIATE_DISBURSAL_DRAWDOWN", p["amount"], p["facility_account_id"],
                  p["uncovered_outstanding_account_id"], SETTLED, PENDING)


@template("CONFIRM_DISBURSAL", _SETTLE, description="Settle a disbursal")
def confirm_disbursal(p):
    return (_move(p["facility_account_id"], p["uncovered_outstanding_account_id"], p["amount"], USD, PENDING,
                  "CONFIRM_DISBURSAL_DRAWDOWN_PENDING") + _to_customer(p, "CONFIRM_DISBURSAL_SETTLED"))


@template("CANCEL_DISBURSAL", _DRAW, description="Cancel a disbursal")
def cancel_disbursal(p):
    return _swing("CANCEL_DISBURSAL_DRAWDOWN", p["amount"], p["facility_account_id"],
                  p["uncovered_outstanding_account_id"], PENDING, SETTLED)


@template("ADD_STRUCTURING_FEE", {"deposit_account_id": ID, "fee_income_account_id": ID, "amount": AMOUNT},
          description="Add structuring fee")
def add_structuring_fee(p):
    return _move(p["deposit_account_id"], p["fee_income_account_id"], p["amount"], USD, SETTLED, "ADD_STRUCTURING_FEE")


TEMPLATES = [create_credit_facility_proposal, activate_credit_facility, add_collateral, remove_collateral,
             initial_disbursal, initiate_disbursal, confirm_disbursal, cancel_disbursal, add_structuring_fee]
