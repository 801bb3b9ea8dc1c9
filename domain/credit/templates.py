"""Credit templates (ledger.md B5.2–B5.4, B5.8): facility creation/activation, disbursals, fee,
collateral. Listed in ``TEMPLATES``; ``domain/ledger/catalogue.py`` registers them.

Roles: FAC (facility remaining limit, off-balance, credit-normal, settled ≥ 0 control = the
disbursal limit), FAC_OMNI, UNCOV (uncovered outstanding), DR_NYD (disbursed receivable not yet
due), CUST_DEP (the customer's deposit account), FEE_INC, COLL / COLL_OMNI (BTC, in sats).
"""

from __future__ import annotations

from domain.ledger.model import Currency
from domain.ledger.templates import AMOUNT, CR, DR, ID, PENDING, SETTLED, entry, template

USD, BTC = Currency.USD, Currency.BTC
_FACILITY = {"facility_omnibus_account_id": ID, "facility_account_id": ID, "amount": AMOUNT}


@template("CREATE_CREDIT_FACILITY_PROPOSAL", _FACILITY, description="Create credit facility")
def create_credit_facility_proposal(p):
    code = "CREATE_CREDIT_FACILITY_PROPOSAL"
    return [entry(p["facility_omnibus_account_id"], p["amount"], USD, DR, PENDING, f"{code}_DR"),
            entry(p["facility_account_id"], p["amount"], USD, CR, PENDING, f"{code}_CR")]


@template("ACTIVATE_CREDIT_FACILITY", _FACILITY, description="Activate credit facility")
def activate_credit_facility(p):
    code, a = "ACTIVATE_CREDIT_FACILITY", p["amount"]
    return [entry(p["facility_account_id"], a, USD, DR, PENDING, f"{code}_PENDING_DR"),
            entry(p["facility_omnibus_account_id"], a, USD, CR, PENDING, f"{code}_PENDING_CR"),
            entry(p["facility_omnibus_account_id"], a, USD, DR, SETTLED, f"{code}_SETTLED_DR"),
            entry(p["facility_account_id"], a, USD, CR, SETTLED, f"{code}_SETTLED_CR")]


_COLLATERAL = {"collateral_omnibus_account_id": ID, "collateral_account_id": ID, "amount": AMOUNT}


@template("ADD_COLLATERAL", _COLLATERAL, description="Add collateral")
def add_collateral(p):
    return [entry(p["collateral_omnibus_account_id"], p["amount"], BTC, DR, SETTLED, "ADD_COLLATERAL_DR"),
            entry(p["collateral_account_id"], p["amount"], BTC, CR, SETTLED, "ADD_COLLATERAL_CR")]


@template("REMOVE_COLLATERAL", _COLLATERAL, description="Remove collateral")
def remove_collateral(p):
    return [entry(p["collateral_account_id"], p["amount"], BTC, DR, SETTLED, "REMOVE_COLLATERAL_DR"),
            entry(p["collateral_omnibus_account_id"], p["amount"], BTC, CR, SETTLED, "REMOVE_COLLATERAL_CR")]


_DRAW = {"facility_account_id": ID, "uncovered_outstanding_account_id": ID, "amount": AMOUNT}
_SETTLE = {**_DRAW, "disbursed_receivable_account_id": ID, "deposit_account_id": ID}


@template("INITIAL_DISBURSAL", _SETTLE, description="Initial disbursal")
def initial_disbursal(p):
    a = p["amount"]
    return [entry(p["facility_account_id"], a, USD, DR, SETTLED, "SINGLE_DISBURSAL_DRAWDOWN_DR"),
            entry(p["uncovered_outstanding_account_id"], a, USD, CR, SETTLED, "SINGLE_DISBURSAL_DRAWDOWN_CR"),
            entry(p["disbursed_receivable_account_id"], a, USD, DR, SETTLED, "SINGLE_DISBURSAL_RECEIVABLE_DR"),
            entry(p["deposit_account_id"], a, USD, CR, SETTLED, "SINGLE_DISBURSAL_RECEIVABLE_CR")]


@template("INITIATE_CREDIT_FACILITY_DISBURSAL", _DRAW, description="Initiate credit facility disbursal")
def initiate_disbursal(p):
    code, a = "INITIATE_DISBURSAL_DRAWDOWN", p["amount"]
    return [entry(p["facility_account_id"], a, USD, DR, SETTLED, f"{code}_SETTLED_DR"),
            entry(p["uncovered_outstanding_account_id"], a, USD, CR, SETTLED, f"{code}_SETTLED_CR"),
            entry(p["uncovered_outstanding_account_id"], a, USD, DR, PENDING, f"{code}_PENDING_DR"),
            entry(p["facility_account_id"], a, USD, CR, PENDING, f"{code}_PENDING_CR")]


@template("CONFIRM_DISBURSAL", _SETTLE, description="Settle a disbursal")
def confirm_disbursal(p):
    code, a = "CONFIRM_DISBURSAL", p["amount"]
    return [entry(p["facility_account_id"], a, USD, DR, PENDING, f"{code}_DRAWDOWN_PENDING_DR"),
            entry(p["uncovered_outstanding_account_id"], a, USD, CR, PENDING, f"{code}_DRAWDOWN_PENDING_CR"),
            entry(p["disbursed_receivable_account_id"], a, USD, DR, SETTLED, f"{code}_SETTLED_DR"),
            entry(p["deposit_account_id"], a, USD, CR, SETTLED, f"{code}_SETTLED_CR")]


@template("CANCEL_DISBURSAL", _DRAW, description="Cancel a disbursal")
def cancel_disbursal(p):
    code, a = "CANCEL_DISBURSAL_DRAWDOWN", p["amount"]
    return [entry(p["facility_account_id"], a, USD, DR, PENDING, f"{code}_PENDING_DR"),
            entry(p["uncovered_outstanding_account_id"], a, USD, CR, PENDING, f"{code}_PENDING_CR"),
            entry(p["uncovered_outstanding_account_id"], a, USD, DR, SETTLED, f"{code}_SETTLED_DR"),
            entry(p["facility_account_id"], a, USD, CR, SETTLED, f"{code}_SETTLED_CR")]


@template("ADD_STRUCTURING_FEE", {"deposit_account_id": ID, "fee_income_account_id": ID, "amount": AMOUNT},
          description="Add structuring fee")
def add_structuring_fee(p):
    return [entry(p["deposit_account_id"], p["amount"], USD, DR, SETTLED, "ADD_STRUCTURING_FEE_DR"),
            entry(p["fee_income_account_id"], p["amount"], USD, CR, SETTLED, "ADD_STRUCTURING_FEE_CR")]


TEMPLATES = [create_credit_facility_proposal, activate_credit_facility, add_collateral, remove_collateral,
             initial_disbursal, initiate_disbursal, confirm_disbursal, cancel_disbursal, add_structuring_fee]
