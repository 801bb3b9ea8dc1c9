"""The customer's statement of a facility (issue 18 item 5): its lines and their running balances.

Pure. The store reads the facility's ledger movements (one ``Movement`` per entry on one of the
statement's accounts, grouped into a ``Line`` per ledger transaction) and its collateralization
state changes; this module names each line after its template and folds the movements into the
running balances, so the closing figures are the ledger's own (they equal the balance summary,
``domain/credit/balance.py``, by construction):

- ``principal``: not-yet-due + due + overdue principal receivables (settled);
- ``interest``: the same for posted interest;
- ``total`` = principal + interest (the total outstanding of §3.1);
- ``accrued``: interest accrued in the open cycle, not yet posted (the not-yet-due interest
  receivable's PENDING layer);
- ``defaulted``: defaulted principal and interest (outside the outstanding);
- ``collateral``: sats on the collateral account.

Accruals are one line per accrual period (as the ledger has them), not aggregated per cycle: the
cycle's posting line then moves them from ``accrued`` to ``interest``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.credit.balance import INTEREST, PRINCIPAL

OUTSTANDING_PRINCIPAL = PRINCIPAL[:3]
OUTSTANDING_INTEREST = INTEREST[:3]
DEFAULTED = (PRINCIPAL[3], INTEREST[3])
ACCRUED = INTEREST[0]  # its PENDING layer
COLLATERAL = "collateral"
# accounts read for lines only (no running figure of their own): the payment itself, the fee
LINE_ONLY = ("payment_holding", "fee_income")
ROLES = (*PRINCIPAL, *INTEREST, COLLATERAL, *LINE_ONLY)

KINDS = {
    "INITIAL_DISBURSAL": "disbursal_settled",
    "CONFIRM_DISBURSAL": "disbursal_settled",
    "ADD_STRUCTURING_FEE": "structuring_fee",
    "CREDIT_FACILITY_ACCRUE_INTEREST": "interest_accrued",
    "CREDIT_FACILITY_POST_ACCRUED_INTEREST": "interest_posted",
    "RECORD_OBLIGATION_DUE_BALANCE": "obligation_due",
    "RECORD_OBLIGATION_OVERDUE_BALANCE": "obligation_overdue",
    "RECORD_OBLIGATION_DEFAULTED_BALANCE": "obligation_defaulted",
    "RECORD_PAYMENT": "payment",
    "RECORD_PAYMENT_ALLOCATION": "payment_allocation",
    "ADD_COLLATERAL": "collateral_added",
    "REMOVE_COLLATERAL": "collateral_removed",
}
COLLATERALIZATION_CHANGED = "collateralization_changed"


def kind_of(template_code: str) -> str:
    """A line's kind; a template not listed here (liquidation's, say) is shown by its own code."""
    return KINDS.get(template_code, template_code.lower())


@dataclass(frozen=True)
class Movement:
    """One ledger entry on a statement account."""

    role: str
    layer: str  # settled | pending | encumbrance
    direction: str  # debit | credit
    normal: str  # the account's normal side
    units: int

    @property
    def signed(self) -> int:
        return self.units if self.direction == self.normal else -self.units


@dataclass(frozen=True)
class Balances:
    principal: int = 0
    interest: int = 0
    accrued: int = 0
    defaulted: int = 0
    collateral: int = 0

    @property
    def total(self) -> int:
        return self.principal + self.interest

    def moved(self, movements: Iterable[Movement]) -> Balances:
        p, i, a, d, c = self.principal, self.interest, self.accrued, self.defaulted, self.collateral
        for m in movements:
            if m.layer == "pending":
                if m.role == ACCRUED:
                    a += m.signed
                continue
            if m.layer != "settled":
                continue
            if m.role in OUTSTANDING_PRINCIPAL:
                p += m.signed
            elif m.role in OUTSTANDING_INTEREST:
                i += m.signed
            elif m.role in DEFAULTED:
                d += m.signed
            elif m.role == COLLATERAL:
                c += m.signed
        return Balances(p, i, a, d, c)


@dataclass(frozen=True)
class Line:
    """A statement line before its balances: a ledger transaction (its movements on the statement's
    accounts) or a collateralization state change (no movement)."""

    effective: date
    recorded_at: datetime
    kind: str
    ref: str  # the store's sort reference: a rank + the ledger transaction id, or the history row's seq
    template_code: str | None = None
    movements: tuple[Movement, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def amount(self) -> int:
        """The largest single movement (the disbursal, the accrual, the payment, the share, the sats
        added…); 0 for a state change."""
        return max((m.units for m in self.movements), default=0)

    @property
    def transaction_id(self) -> str | None:
        return self.ref[-36:] if self.template_code else None

    @property
    def currency(self) -> str | None:
        return ("BTC" if any(m.role == COLLATERAL for m in self.movements) else "USD") if self.movements else None


@dataclass(frozen=True)
class StatementLine:
    line: Line
    balances: Balances  # after the line


def running(opening: Balances, lines: Iterable[Line]) -> Iterator[StatementLine]:
    """Each line with the balances after it, from ``opening`` (lines in statement order)."""
    b = opening
    for ln in lines:
        b = b.moved(ln.movements)
        yield StatementLine(ln, b)


def fold(opening: Balances, movements: Iterable[Movement]) -> Balances:
    return opening.moved(movements)
