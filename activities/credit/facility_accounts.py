"""A facility's ledger accounts (ledger.md B3.2–B3.4), placed through accounting product sets.

Ids are UUIDv5 of (facility id, role), so creating them again (a retried activity) is a no-op and
every module can compute them. Never chart codes: the accounting module attaches the product sets.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.accounting import placement
from domain.accounting.product_sets import (
    COLLATERAL,
    COLLATERAL_IN_LIQUIDATION,
    COLLATERAL_OMNIBUS,
    DISBURSED_DEFAULTED,
    FACILITY_OMNIBUS,
    FEE_INCOME,
    INTEREST_ADDED_OMNIBUS,
    INTEREST_DEFAULTED,
    INTEREST_INCOME,
    LIQUIDATED_COLLATERAL,
    LIQUIDATION_PROCEEDS_OMNIBUS,
    PAYMENT_HOLDING,
    PAYMENTS_MADE_OMNIBUS,
    PROCEEDS_FROM_LIQUIDATION,
    UNCOVERED_OUTSTANDING,
    CustomerType,
    ProductSet,
    facility_set,
)
from domain.credit.terms import DurationClass, TermValues

_NS = uuid.UUID("2f0e1c7a-9b4d-4e21-8c3a-5d6e7f8a9b0c")
ACCOUNT_NAMESPACE = _NS  # account_id(f, role) = uuid5(ACCOUNT_NAMESPACE, f"{f}:{role}")


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


def _active_specs(facility_id: str, ct: CustomerType, tc: str) -> dict[str, tuple[ProductSet, str, str, str]]:
    """Role → (product set, id slug, name, external id) of every account opened at activation
    (ledger.md B3.2, B3.4): the principal and interest receivables by status, the defaulted
    accounts, interest and fee income, the payment holding."""
    principal, interest = facility_set("disbursed-receivable", tc, ct), facility_set("interest-receivable", tc, ct)
    ext = "credit-facility-{}:" + facility_id
    return {
        "disbursed_receivable_not_yet_due": (principal, "dr-nyd", "Disbursed Not Yet Due Receivable",
                                             ext.format("disbursed-not-yet-due-receivable")),
        "disbursed_receivable_due": (principal, "dr-due", "Disbursed Due Receivable",
                                     ext.format("disbursed-due-receivable")),
        "disbursed_receivable_overdue": (facility_set("disbursed-receivable", "overdue", ct), "dr-ovd",
                                         "Disbursed Overdue Receivable", ext.format("disbursed-overdue-receivable")),
        "disbursed_defaulted": (DISBURSED_DEFAULTED, "dr-def", "Disbursed Defaulted", ext.format("disbursed-defaulted")),
        "interest_receivable_not_yet_due": (interest, "ir-nyd", "Interest Not Yet Due Receivable",
                                            ext.format("interest-not-yet-due-receivable")),
        "interest_receivable_due": (interest, "ir-due", "Interest Due Receivable", ext.format("interest-due-receivable")),
        "interest_receivable_overdue": (interest, "ir-ovd", "Interest Overdue Receivable",
                                        ext.format("interest-overdue-receivable")),
        "interest_defaulted": (INTEREST_DEFAULTED, "ir-def", "Interest Defaulted", ext.format("interest-defaulted")),
        "interest_income": (INTEREST_INCOME, "interest-income", "Interest Income", ext.format("interest-income")),
        "fee_income": (FEE_INCOME, "fee-income", "Fee Income", ext.format("fee-income")),
        "payment_holding": (PAYMENT_HOLDING, "payment-holding", "Payment Holding Account",
                            "credit-facility-payment-holding:" + facility_id),
        # liquidation (ledger.md B3.2): keyed by the facility (its collateral is one per facility)
        "collateral_in_liquidation": (COLLATERAL_IN_LIQUIDATION, "collateral-in-liquidation",
                                      "Collateral In Liquidation", "collateral-in-liquidation:" + facility_id),
        "liquidated_collateral": (LIQUIDATED_COLLATERAL, "liquidated-collateral", "Liquidated Collateral",
                                  "liquidated-collateral:" + facility_id),
        "proceeds_from_liquidation": (PROCEEDS_FROM_LIQUIDATION, "proceeds-from-liquidation",
                                      "Proceeds From Liquidation Account",
                                      "credit-facility-proceeds-from-liquidation:" + facility_id),
    }


async def create_active_accounts(conn: AsyncConnection, facility_id: str, customer_type: str,
                                 terms: TermValues, *, have: dict[str, str] | None = None) -> dict[str, str]:
    """At activation: the receivables of both families for every obligation status, the defaulted
    accounts, interest and fee income, and the interest-added omnibus of the cycle postings, in a
    few statements (placement). ``have``: roles already open (a facility activated before some of
    these existed), skipped."""
    have = have or {}
    specs = {role: _spec(ps, facility_id, slug, f"{name} for Credit Facility {facility_id}", external_id)
             for role, (ps, slug, name, external_id) in _active_specs(
                 facility_id, CustomerType(customer_type), _term_class(terms)).items() if role not in have}
    if "interest_added_omnibus" not in have:
        specs["interest_added_omnibus"] = placement.omnibus_spec(INTEREST_ADDED_OMNIBUS)
    if "payments_made_omnibus" not in have:
        specs["payments_made_omnibus"] = placement.omnibus_spec(PAYMENTS_MADE_OMNIBUS)
    if "liquidation_proceeds_omnibus" not in have:
        specs["liquidation_proceeds_omnibus"] = placement.omnibus_spec(LIQUIDATION_PROCEEDS_OMNIBUS)
    return await _create(conn, specs) if specs else {}


ACTIVE_ROLES = (*_active_specs("", CustomerType.INDIVIDUAL, "short"), "interest_added_omnibus",
                "payments_made_omnibus", "liquidation_proceeds_omnibus")
# Role → the slug its account id is derived from (``account_id(facility_id, slug)``), for every
# role of a facility's own accounts (the omnibus accounts are the bank's, shared by all facilities).
ACCOUNT_SLUGS = {"facility": "facility", "uncovered_outstanding": "uncovered-outstanding", "collateral": "collateral",
                 **{role: spec[1] for role, spec in _active_specs("", CustomerType.INDIVIDUAL, "short").items()}}


async def ensure_active_accounts(conn: AsyncConnection, facility_id: str, customer_type: str, terms: TermValues,
                                 accounts: dict[str, str]) -> dict[str, str]:
    """Every role of ``ACTIVE_ROLES`` for a facility activated before some existed: the missing
    ones are opened and added to its row (the end-of-day steps call this the first time they need
    one); the facility's accounts are returned."""
    if all(role in accounts for role in ACTIVE_ROLES):
        return accounts
    added = await create_active_accounts(conn, facility_id, customer_type, terms, have=accounts)
    await conn.execute(text("UPDATE credit_facilities SET accounts = accounts || CAST(:a AS jsonb) WHERE id = :id"),
                       {"a": json.dumps(added), "id": facility_id})
    return {**accounts, **added}


def role_columns(roles: tuple[str, ...]) -> list:
    """Columns of a batch step's select: the account id of each role (text), and whether the
    facility has every role of ``ACTIVE_ROLES`` (not the whole accounts document per row)."""
    from sqlalchemy import cast
    from sqlalchemy.dialects.postgresql import ARRAY, TEXT

    from activities.credit.tables import facilities as f

    return [*(f.c.accounts[r].astext.label(r) for r in roles),
            f.c.accounts.has_all(cast(list(ACTIVE_ROLES), ARRAY(TEXT))).label("has_every_role")]


async def page_accounts(conn: AsyncConnection, rows: list, roles: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The ``roles`` of each row's facility (rows selected with ``role_columns``), by facility id; a
    facility activated before some roles existed gets them opened now (rare: one query for all)."""
    out = {str(r.facility_id): {role: getattr(r, role) for role in roles} for r in rows if r.has_every_role}
    missing = sorted({str(r.facility_id) for r in rows if not r.has_every_role})
    if missing:
        found = await conn.execute(text(
            "SELECT id, accounts, customer_type, terms FROM credit_facilities WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": [uuid.UUID(m) for m in missing]})
        for f in found:
            out[str(f.id)] = await ensure_active_accounts(conn, str(f.id), f.customer_type,
                                                          TermValues.model_validate(f.terms), f.accounts)
    return out
