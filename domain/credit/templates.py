"""Credit templates (ledger.md B5.2–B5.6, B5.8): facility creation/activation, disbursals, fee,
collateral, interest accrual and posting, obligation reclassification. Listed in ``TEMPLATES``;
``domain/ledger/catalogue.py`` registers them.

Roles: FAC (facility remaining limit, off-balance, credit-normal, settled ≥ 0 control = the
disbursal limit), FAC_OMNI, UNCOV (uncovered outstanding), DR_NYD (disbursed receivable not yet
due), CUST_DEP (the customer's deposit account), FEE_INC, COLL / COLL_OMNI (BTC, in sats), IR_*
(interest receivable), INT_INC, INT_ADD_OMNI (interest added to obligations, off-balance), and the
due / overdue / defaulted receivables of both families.
"""

from __future__ import annotations

from domain.ledger.model import Currency, Entry, Layer
from domain.ledger.templates import AMOUNT, CR, DR, ID, PENDING, SETTLED, Param, entry, template

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


_INTEREST = {"interest_receivable_account_id": ID, "interest_income_account_id": ID, "amount": AMOUNT}


@template("CREDIT_FACILITY_ACCRUE_INTEREST", _INTEREST,
          description="Accrue interest in accrual period for credit facility")
def accrue_interest(p):
    """B5.5: one accrual period's interest, PENDING layer (IR_NYD DR, INT_INC CR)."""
    return _move(p["interest_receivable_account_id"], p["interest_income_account_id"], p["amount"], USD, PENDING,
                 "ACCRUE_INTEREST")


@template("CREDIT_FACILITY_POST_ACCRUED_INTEREST",
          {**_INTEREST, "interest_added_omnibus_account_id": ID, "uncovered_outstanding_account_id": ID},
          description="Post accrued interest from accrual cycle for credit facility")
def post_accrued_interest(p):
    """B5.5: the cycle's accruals leave the PENDING layer and are re-booked SETTLED; the interest is
    added to the uncovered outstanding (the most a payment may be)."""
    rec, inc, amount = p["interest_receivable_account_id"], p["interest_income_account_id"], p["amount"]
    return (_move(inc, rec, amount, USD, PENDING, "POST_ACCRUED_INTEREST_PENDING")
            + _move(rec, inc, amount, USD, SETTLED, "POST_ACCRUED_INTEREST_SETTLED")
            + _move(p["interest_added_omnibus_account_id"], p["uncovered_outstanding_account_id"], amount, USD,
                    SETTLED, "RECORD_INTEREST_UNCOVERED_OBLIGATION_SETTLED"))


@template("RECORD_OBLIGATION_DUE_BALANCE",
          {"receivable_not_yet_due_account_id": ID, "receivable_due_account_id": ID, "amount": AMOUNT},
          description="Record a due obligation balance")
def record_obligation_due(p):
    """B5.6: not-yet-due receivable → due receivable (principal or interest family)."""
    return _move(p["receivable_due_account_id"], p["receivable_not_yet_due_account_id"], p["amount"], USD, SETTLED,
                 "RECORD_OBLIGATION_DUE_BALANCE")


@template("RECORD_OBLIGATION_OVERDUE_BALANCE",
          {"receivable_due_account_id": ID, "receivable_overdue_account_id": ID, "amount": AMOUNT},
          description="Record an overdue obligation balance")
def record_obligation_overdue(p):
    """B5.6: due receivable → overdue receivable."""
    return _move(p["receivable_overdue_account_id"], p["receivable_due_account_id"], p["amount"], USD, SETTLED,
                 "RECORD_OBLIGATION_OVERDUE_BALANCE")


@template("RECORD_OBLIGATION_DEFAULTED_BALANCE",
          {"receivable_account_id": ID, "defaulted_account_id": ID, "amount": AMOUNT},
          description="Record a defaulted obligation balance")
def record_obligation_defaulted(p):
    """B5.6: the receivable of the status before default (due or overdue) → the defaulted account."""
    return _move(p["defaulted_account_id"], p["receivable_account_id"], p["amount"], USD, SETTLED,
                 "RECORD_OBLIGATION_DEFAULTED_BALANCE")


@template("RECORD_PAYMENT", {"payment_source_account_id": ID, "payment_holding_account_id": ID,
                             "uncovered_outstanding_account_id": ID, "payments_made_omnibus_account_id": ID,
                             "amount": AMOUNT}, description="Record a payment received")
def record_payment(p):
    """B5.7: the payment leaves the source (the customer's deposit account) into the facility's
    payment holding; the uncovered outstanding goes down by as much (off-balance)."""
    return (_move(p["payment_source_account_id"], p["payment_holding_account_id"], p["amount"], USD, SETTLED,
                  "RECORD_PAYMENT")
            + _move(p["uncovered_outstanding_account_id"], p["payments_made_omnibus_account_id"], p["amount"], USD,
                    SETTLED, "RECORD_UNCOVERED_DRAWDOWN_FROM_PAYMENT"))


@template("RECORD_PAYMENT_ALLOCATION", {"payment_holding_account_id": ID, "receivable_account_id": ID,
                                        "amount": AMOUNT}, description="Record a payment allocation")
def record_payment_allocation(p):
    """B5.7: one allocation: payment holding → the obligation's receivable for its current status."""
    return _move(p["payment_holding_account_id"], p["receivable_account_id"], p["amount"], USD, SETTLED,
                 "RECORD_PAYMENT_ALLOCATION")


_SEND = {"collateral_account_id": ID, "collateral_in_liquidation_account_id": ID, "amount": AMOUNT}


@template("SEND_COLLATERAL_TO_LIQUIDATION", _SEND, description="Send collateral to liquidation")
def send_collateral_to_liquidation(p):
    """B5.8: BTC sent to the liquidator leaves the collateral account (COLL → COLL_LIQ)."""
    return _move(p["collateral_account_id"], p["collateral_in_liquidation_account_id"], p["amount"], BTC, SETTLED,
                 "SEND_COLLATERAL_TO_LIQUIDATION")


@template("RECEIVE_PROCEEDS_FROM_LIQUIDATION", {
    "liquidation_proceeds_omnibus_account_id": ID, "proceeds_from_liquidation_account_id": ID,
    "collateral_in_liquidation_account_id": ID, "liquidated_collateral_account_id": ID,
    "amount_received": AMOUNT, "amount_liquidated": Param("amount", None)},
    description="Record received proceeds from liquidation and collateral liquidated")
def receive_proceeds_from_liquidation(p):
    """B5.8: the USD proceeds into the facility's proceeds account, and every sat sent for this
    liquidation from in-liquidation to liquidated (``amount_liquidated`` absent when nothing was sent:
    no BTC lines)."""
    out = _move(p["liquidation_proceeds_omnibus_account_id"], p["proceeds_from_liquidation_account_id"],
                p["amount_received"], USD, SETTLED, "RECEIVE_PROCEEDS_FROM_LIQUIDATION")
    if p["amount_liquidated"]:
        out += _move(p["collateral_in_liquidation_account_id"], p["liquidated_collateral_account_id"],
                     p["amount_liquidated"], BTC, SETTLED, "RECORD_COLLATERAL_LIQUIDATED")
    return out


TEMPLATES = [create_credit_facility_proposal, activate_credit_facility, add_collateral, remove_collateral,
             initial_disbursal, initiate_disbursal, confirm_disbursal, cancel_disbursal, add_structuring_fee,
             accrue_interest, post_accrued_interest, record_obligation_due, record_obligation_overdue,
             record_obligation_defaulted, record_payment, record_payment_allocation,
             send_collateral_to_liquidation, receive_proceeds_from_liquidation]
