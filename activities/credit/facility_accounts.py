"""A facility's ledger accounts (ledger.md B3.2–B3.4), placed through accounting product sets.

Ids are UUIDv5 of (facility id, role), so creating them again (a retried activity) is a no-op and
every module can compute them. Never chart codes: the accounting module attaches the product sets.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.accounting import placement
from domain.accounting.product_sets import (
    COLLATERAL,
    COLLATERAL_OMNIBUS,
    FACILITY_OMNIBUS,
    FEE_INCOME,
    INTEREST_INCOME,
    UNCOVERED_OUTSTANDING,
    CustomerType,
    ProductSet,
    facility_set,
)
from domain.credit.terms import DurationClass, TermValues

_NS = uuid.UUID("2f0e1c7a-9b4d-4e21-8c3a-5d6e7f8a9b0c")


def account_id(facility_id: str, role: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{facility_id}:{role}")


def _term_class(terms: TermValues) -> str:
    return "long" if terms.duration_class is DurationClass.LONG_TERM else "short"


def _spec(ps: ProductSet, facility_id: str, role: str, name: str, external_id: str, *,
          normal_balance: str | None = None, control: str | None = None) -> tuple[ProductSet, ledger.AccountSpec]:
    aid = account_id(facility_id, role)
    return ps, ledger.AccountSpec(
        id=aid, code=str(aid), name=name, normal_balance=normal_balance or ps.normal_balance,
        external_id=external_id, control=control,
        metadata={"entity_ref": {"entity_type": "credit_facility", "entity_id": facility_id}})


async def _create(conn: AsyncConnection, specs: dict[str, tuple[ProductSet, ledger.AccountSpec]]) -> dict[str, str]:
    """The accounts by role, created in their product sets in a few statements (placement)."""
    await placement.product_accounts(conn, list(specs.values()))
    return {role: str(spec.id) for role, (_, spec) in specs.items()}


async def create_pending_accounts(conn: AsyncConnection, facility_id: str, collateral_id: str,
                                  customer_type: str, terms: TermValues) -> dict[str, str]:
    """At approval: FAC (credit-normal, settled ≥ 0 = the disbursal limit), UNCOV, COLL + omnibuses."""
    ct = CustomerType(customer_type)
    return await _create(conn, {
        "facility": _spec(facility_set("facility", _term_class(terms), ct), facility_id, "facility",
                          f"Off-Balance-Sheet Facility Account for Credit Facility {facility_id}",
                          f"credit-facility-obs-facility:{facility_id}", normal_balance="credit", control="settled"),
        "uncovered_outstanding": _spec(UNCOVERED_OUTSTANDING, facility_id, "uncovered-outstanding",
                                       f"Uncovered Outstanding Account for Credit Facility {facility_id}",
                                       f"credit-facility-uncovered-outstanding:{facility_id}"),
        "collateral": _spec(COLLATERAL, facility_id, "collateral", f"Collateral Account {collateral_id}",
                            f"credit-facility-collateral:{collateral_id}"),
        "facility_omnibus": placement.omnibus_spec(FACILITY_OMNIBUS),
        "collateral_omnibus": placement.omnibus_spec(COLLATERAL_OMNIBUS),
    })


async def create_active_accounts(conn: AsyncConnection, facility_id: str, customer_type: str,
                                 terms: TermValues) -> dict[str, str]:
    """At activation: principal and interest receivable (not yet due), interest and fee income.

    The due/overdue/defaulted receivables come with the obligation lifecycle (later issue).
    """
    ct, tc = CustomerType(customer_type), _term_class(terms)
    return await _create(conn, {
        "disbursed_receivable_not_yet_due": _spec(
            facility_set("disbursed-receivable", tc, ct), facility_id, "dr-nyd",
            f"Disbursed Not Yet Due Receivable for Credit Facility {facility_id}",
            f"credit-facility-disbursed-not-yet-due-receivable:{facility_id}"),
        "interest_receivable_not_yet_due": _spec(
            facility_set("interest-receivable", tc, ct), facility_id, "ir-nyd",
            f"Interest Not Yet Due Receivable for Credit Facility {facility_id}",
            f"credit-facility-interest-not-yet-due-receivable:{facility_id}"),
        "interest_income": _spec(INTEREST_INCOME, facility_id, "interest-income",
                                 f"Interest Income for Credit Facility {facility_id}",
                                 f"credit-facility-interest-income:{facility_id}"),
        "fee_income": _spec(FEE_INCOME, facility_id, "fee-income", f"Fee Income for Credit Facility {facility_id}",
                            f"credit-facility-fee-income:{facility_id}"),
    })
