"""Product account sets: where business modules put the ledger accounts they create.

Business modules never hard-code chart codes. They ask for a *product set* by a stable key (e.g.
the deposit accounts of individuals) and create their accounts as members of it. The accounting
module's integration config then attaches each product set under a chart-of-accounts node, so the
statements see every product account through the chart. Changing where a product appears in the
chart is a config change, not a code change.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.customers.model import CustomerType


@dataclass(frozen=True)
class ProductSet:
    key: str
    name: str
    normal_balance: str  # "debit" | "credit"


def _slug(ct: CustomerType) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in ct.value).lstrip("-")


def deposit_accounts(ct: CustomerType) -> ProductSet:
    """Customers' USD deposit accounts (liabilities), per customer type."""
    return ProductSet(f"deposit.accounts.{_slug(ct)}", f"Deposit accounts: {ct.value}", "credit")


def frozen_deposit_accounts(ct: CustomerType) -> ProductSet:
    return ProductSet(f"deposit.frozen.{_slug(ct)}", f"Frozen deposit accounts: {ct.value}", "credit")


DEPOSIT_OMNIBUS = ProductSet("deposit.omnibus", "Deposit omnibus (cash at bank)", "debit")


def facility_set(kind: str, term_class: str, ct: CustomerType) -> ProductSet:
    """Credit product sets per facility term class (short/long) and customer type.

    ``kind``: ``facility`` (undrawn facility, off-balance), ``disbursed-receivable``,
    ``interest-receivable``; ``term_class`` is ``short``, ``long`` or, for principal, ``overdue``
    (ledger.md B3.4: overdue principal has its own set per customer type, overdue interest stays
    with the short/long-term interest).
    """
    side = "debit"
    return ProductSet(f"credit.{kind}.{term_class}.{_slug(ct)}",
                      f"Credit {kind} ({term_class}-term): {ct.value}", side)


COLLATERAL = ProductSet("credit.collateral", "BTC collateral held", "credit")
COLLATERAL_OMNIBUS = ProductSet("credit.collateral-omnibus", "BTC collateral omnibus", "debit")
FACILITY_OMNIBUS = ProductSet("credit.facility-omnibus", "Credit facility omnibus (off-balance)", "credit")
INTEREST_INCOME = ProductSet("credit.interest-income", "Interest income", "credit")
FEE_INCOME = ProductSet("credit.fee-income", "Fee income", "credit")
# Per-facility uncovered outstanding (off-balance): principal drawn + posted interest − payments.
UNCOVERED_OUTSTANDING = ProductSet("credit.uncovered-outstanding", "Credit uncovered outstanding (off-balance)",
                                   "credit")
DISBURSED_DEFAULTED = ProductSet("credit.disbursed-defaulted", "Credit disbursed defaulted", "debit")
INTEREST_DEFAULTED = ProductSet("credit.interest-defaulted", "Credit interest defaulted", "debit")
# Off-balance counterpart of the interest added to the uncovered outstanding at each cycle posting.
INTEREST_ADDED_OMNIBUS = ProductSet("credit.interest-added-to-obligations-omnibus",
                                    "Credit interest added to obligations omnibus (off-balance)", "debit")
# Payments (credit.md §8, ledger.md B5.7): per facility, what is received and not yet allocated
# (an asset account with a credit normal balance, as lana's); the off-balance counterpart of the
# uncovered outstanding that payments cover.
PAYMENT_HOLDING = ProductSet("credit.payment-holding", "Credit payment holding", "credit")
PAYMENTS_MADE_OMNIBUS = ProductSet("credit.payments-made-omnibus", "Credit payments made omnibus (off-balance)",
                                   "credit")
# Liquidation (credit.md §9, ledger.md B3.2, B5.8): per facility, BTC sent to the liquidator, BTC
# liquidated, USD proceeds not yet turned into a payment; the shared omnibus of the proceeds.
COLLATERAL_IN_LIQUIDATION = ProductSet("credit.collateral-in-liquidation", "BTC collateral in liquidation", "credit")
LIQUIDATED_COLLATERAL = ProductSet("credit.liquidated-collateral", "BTC collateral liquidated", "credit")
PROCEEDS_FROM_LIQUIDATION = ProductSet("credit.proceeds-from-liquidation", "Proceeds from liquidation", "credit")
LIQUIDATION_PROCEEDS_OMNIBUS = ProductSet("credit.liquidation-proceeds-omnibus",
                                          "Liquidation proceeds omnibus (off-balance)", "debit")
