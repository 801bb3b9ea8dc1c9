"""The facility balance summary (credit.md §13), from the ledger balances of the facility's accounts.

Pure: the activity reads one ``Balance`` per account role and this decides every figure, so the
arithmetic is tested on its own (``tests/integration/credit/test_balance_properties.py``).

The facility account (FAC) carries the commitment on its PENDING layer, but every disbursal
initiation swings its amount settled → pending there too (the reservation), and its settlement or
cancellation swings it back out. The facility amount is therefore FAC's pending credits less the
reservations made, which are exactly the uncovered-outstanding account's (UNCOV) pending debits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from domain.ledger.model import Balance


@dataclass(frozen=True)
class FacilityBalanceSummary:
    """Ledger read (credit.md §13) of the accounts that exist so far (also the API's body)."""

    facility: int
    facility_remaining: int
    collateral: int
    disbursed: int
    not_yet_due_disbursed_outstanding: int
    uncovered_outstanding: int
    fee_income: int
    total_outstanding: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def summarize(balances: Mapping[str, Balance | None]) -> FacilityBalanceSummary:
    """Every §13 figure that the facility's accounts so far allow; an account not yet created counts 0."""

    fac, uncov = balances.get("facility"), balances.get("uncovered_outstanding")
    dr_nyd, coll, fee = (balances.get(r) for r in ("disbursed_receivable_not_yet_due", "collateral", "fee_income"))
    reserved_ever = uncov.pending_amounts.dr if uncov else 0
    not_yet_due = dr_nyd.settled if dr_nyd else 0
    return FacilityBalanceSummary(
        facility=(fac.pending_amounts.cr - reserved_ever) if fac else 0,
        facility_remaining=fac.settled if fac else 0,
        collateral=coll.settled if coll else 0,
        disbursed=dr_nyd.settled_amounts.dr if dr_nyd else 0,
        not_yet_due_disbursed_outstanding=not_yet_due,
        uncovered_outstanding=(uncov.settled_amounts.cr - uncov.settled_amounts.dr) if uncov else 0,
        fee_income=fee.settled if fee else 0,
        total_outstanding=not_yet_due,
    )
