"""Ledger templates of the deposit module (ledger.md B5.1): deposits, withdrawals, freezing.

DEP_OMNI (the deposit omnibus) is debit-normal, CUST_DEP (the customer's account) credit-normal.
Listed in ``TEMPLATES``; ``domain/ledger/catalogue.py`` registers them.
"""

from __future__ import annotations

from domain.ledger.model import Direction, Entry, Layer
from domain.ledger.templates import AMOUNT, CR, DR, ID, PENDING, SETTLED, USD_DEFAULT, entry, template

_DEPOSIT_PARAMS = {"deposit_omnibus_account_id": ID, "credit_account_id": ID, "amount": AMOUNT,
                   "currency": USD_DEFAULT}


def _pair(code: str, p, omni_dir: Direction, layer: Layer, suffix: str = "") -> list[Entry]:
    """Two entries: omnibus on ``omni_dir``, customer account on the other side."""
    cust_dir = CR if omni_dir == DR else DR
    tag = {DR: "DR", CR: "CR"}
    return [entry(p["deposit_omnibus_account_id"], p["amount"], p["currency"], omni_dir, layer,
                  f"{code}{suffix}_{tag[omni_dir]}"),
            entry(p["credit_account_id"], p["amount"], p["currency"], cust_dir, layer,
                  f"{code}{suffix}_{tag[cust_dir]}")]


@template("RECORD_DEPOSIT", _DEPOSIT_PARAMS, description="Record a deposit")
def record_deposit(p):
    return _pair("RECORD_DEPOSIT", p, DR, SETTLED)


@template("REVERT_DEPOSIT", _DEPOSIT_PARAMS, description="Revert a deposit")
def revert_deposit(p):
    return _pair("REVERT_DEPOSIT", p, CR, SETTLED)


@template("INITIATE_WITHDRAW", _DEPOSIT_PARAMS, description="Initiate a withdrawal")
def initiate_withdraw(p):
    return (_pair("INITIATE_WITHDRAW", p, CR, SETTLED, "_SETTLED")
            + _pair("INITIATE_WITHDRAW", p, DR, PENDING, "_PENDING"))


@template("CONFIRM_WITHDRAW", _DEPOSIT_PARAMS, description="Confirm a withdrawal")
def confirm_withdraw(p):
    return _pair("CONFIRM_WITHDRAW", p, CR, PENDING, "_PENDING")


def _restore(code: str):
    def build(p):
        return _pair(code, p, CR, PENDING, "_PENDING") + _pair(code, p, DR, SETTLED, "_SETTLED")

    return build


deny_withdraw = template("DENY_WITHDRAW", _DEPOSIT_PARAMS, description="Deny a withdrawal")(
    _restore("DENY_WITHDRAW"))
cancel_withdraw = template("CANCEL_WITHDRAW", _DEPOSIT_PARAMS, description="Cancel a withdrawal")(
    _restore("CANCEL_WITHDRAW"))


@template("REVERT_WITHDRAW", _DEPOSIT_PARAMS, description="Revert a withdrawal")
def revert_withdraw(p):
    return _pair("REVERT_WITHDRAW", p, DR, SETTLED, "_SETTLED")


_FREEZE_PARAMS = {"account_id": ID, "frozen_accounts_account_id": ID, "amount": AMOUNT,
                  "currency": USD_DEFAULT}


@template("FREEZE_ACCOUNT", _FREEZE_PARAMS, description="Freeze a deposit account")
def freeze_account(p):
    return [entry(p["account_id"], p["amount"], p["currency"], DR, SETTLED, "FREEZE_ACCOUNT_DR"),
            entry(p["frozen_accounts_account_id"], p["amount"], p["currency"], CR, SETTLED, "FREEZE_ACCOUNT_CR")]


@template("UNFREEZE_ACCOUNT", _FREEZE_PARAMS, description="Unfreeze a deposit account")
def unfreeze_account(p):
    return [entry(p["frozen_accounts_account_id"], p["amount"], p["currency"], DR, SETTLED,
                  "UNFREEZE_ACCOUNT_DR"),
            entry(p["account_id"], p["amount"], p["currency"], CR, SETTLED, "UNFREEZE_ACCOUNT_CR")]


TEMPLATES = [record_deposit, revert_deposit, initiate_withdraw, confirm_withdraw, deny_withdraw, cancel_withdraw,
             revert_withdraw, freeze_account, unfreeze_account]
