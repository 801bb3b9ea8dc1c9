"""The facility balance summary (credit.md §13), from the ledger balances of the facility's accounts.

Pure: the activity reads one ``Balance`` per account role and this decides every figure, so the
arithmetic is tested on its own (``tests/integration/credit/test_balance_properties.py``).

The facility account (FAC) carries the commitment on its PENDING layer, but every disbursal
initiation swings its amount settled → pending there too (the reservation), and its settlement or
cancellation swings it back out. The facility amount is therefore FAC's pending credits less the
reservations made, which are exactly the uncovered-outstanding account's (UNCOV) pending debits.

Principal and interest each have a not-yet-due, due, overdue and defaulted account; every
obligation's balance is moved from one to the next as it falls due, so "ever disbursed" and "ever
posted" are the not-yet-due accounts' settled debits. Interest accrued in the current cycle sits
on the not-yet-due interest account's PENDING layer until the cycle posting re-books it settled.
Outstanding excludes defaulted balances and interest accrued but not yet posted (§3.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from domain.ledger.model import Balance

PRINCIPAL = ("disbursed_receivable_not_yet_due", "disbursed_receivable_due", "disbursed_receivable_overdue",
             "disbursed_defaulted")
INTEREST = ("interest_receivable_not_yet_due", "interest_receivable_due", "interest_receivable_overdue",
            "interest_defaulted")


@dataclass(frozen=True)
class FacilityBalanceSummary:
    """Ledger read (credit.md §13) of the facility's accounts (also the API's body); cents / sats."""

    facility: int
    facility_remaining: int
    collateral: int
    disbursed: int
    not_yet_due_disbursed_outstanding: int
    due_disbursed_outstanding: int
    overdue_disbursed_outstanding: int
    disbursed_defaulted: int
    interest_posted: int
    not_yet_due_interest_outstanding: int
    due_interest_outstanding: int
    overdue_interest_outstanding: int
    interest_defaulted: int
    interest_accrued: int  # accrued in the current cycle, not yet posted (PENDING layer)
    interest_income: int  # recognised (posted) interest income
    uncovered_outstanding: int
    fee_income: int
    disbursed_outstanding_payable: int
    disbursed_outstanding: int
    interest_outstanding_payable: int
    interest_outstanding: int
    total_outstanding: int
    total_outstanding_payable: int
    total_overdue: int
    any_outstanding_or_defaulted: bool

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


def summarize(balances: Mapping[str, Balance | None]) -> FacilityBalanceSummary:
    """Every §13 figure that the facility's accounts allow; an account not yet created counts 0."""

    def settled(role: str) -> int:
        b = balances.get(role)
        return b.settled if b else 0

    fac, uncov = balances.get("facility"), balances.get("uncovered_outstanding")
    dr_nyd, ir_nyd = balances.get(PRINCIPAL[0]), balances.get(INTEREST[0])
    p_nyd, p_due, p_ovd, p_def = (settled(r) for r in PRINCIPAL)
    i_nyd, i_due, i_ovd, i_def = (settled(r) for r in INTEREST)
    reserved_ever = uncov.pending_amounts.dr if uncov else 0
    p_out, i_out = p_nyd + p_due + p_ovd, i_nyd + i_due + i_ovd
    return FacilityBalanceSummary(
        facility=(fac.pending_amounts.cr - reserved_ever) if fac else 0,
        facility_remaining=fac.settled if fac else 0,
        collateral=settled("collateral"),
        disbursed=dr_nyd.settled_amounts.dr if dr_nyd else 0,
        not_yet_due_disbursed_outstanding=p_nyd, due_disbursed_outstanding=p_due,
        overdue_disbursed_outstanding=p_ovd, disbursed_defaulted=p_def,
        interest_posted=ir_nyd.settled_amounts.dr if ir_nyd else 0,
        not_yet_due_interest_outstanding=i_nyd, due_interest_outstanding=i_due,
        overdue_interest_outstanding=i_ovd, interest_defaulted=i_def,
        interest_accrued=ir_nyd.pending if ir_nyd else 0,
        interest_income=settled("interest_income"),
        uncovered_outstanding=(uncov.settled_amounts.cr - uncov.settled_amounts.dr) if uncov else 0,
        fee_income=settled("fee_income"),
        disbursed_outstanding_payable=p_due + p_ovd, disbursed_outstanding=p_out,
        interest_outstanding_payable=i_due + i_ovd, interest_outstanding=i_out,
        total_outstanding=p_out + i_out, total_outstanding_payable=p_due + p_ovd + i_due + i_ovd,
        total_overdue=p_ovd + i_ovd,
        any_outstanding_or_defaulted=(p_out + i_out + p_def + i_def) > 0,
    )
