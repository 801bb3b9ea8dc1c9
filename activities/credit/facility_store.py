"""Facility persistence: the read-model row ⇄ ``FacilityState``, events, collateralization history.

The ``CreditFacility`` workflow is the only writer after creation; every write locks the row, appends
events to the ``credit_facility`` stream at the row's version and updates the row, in the caller's
transaction (with the ledger postings of the same step).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.credit.tables import collateralization_history, disbursals, facilities
from domain.credit.facility import DisbursalStatus, FacilityNotFound, FacilityState
from domain.credit.terms import TermValues

ENTITY = "credit_facility"
DISBURSAL_ENTITY = "credit_disbursal"
_STATE_COLUMNS = ("stage", "proposal_status", "pending_status", "status", "pending_collateralization",
                  "collateralization", "collateral_sats", "collateral_seq", "cvl", "price_cents", "drawn_cents",
                  "disbursed_cents", "activated_at", "maturity_date")


async def facility_row(conn: AsyncConnection, facility_id: str, *, lock: bool = False):
    query = select(facilities).where(facilities.c.id == facility_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise FacilityNotFound(f"Credit facility {facility_id} does not exist.")
    return row


async def load_state(conn: AsyncConnection, facility_id: str, *, lock: bool = True):
    """The state as stored (row locked by default) and the row's version."""
    row = await facility_row(conn, facility_id, lock=lock)
    flying = (await conn.execute(select(disbursals.c.id, disbursals.c.amount_cents).where(
        disbursals.c.facility_id == facility_id,
        disbursals.c.status.in_([DisbursalStatus.NEW.value, DisbursalStatus.APPROVED.value])))).all()
    state = FacilityState(
        id=str(row.id), customer_id=str(row.customer_id), customer_type=row.customer_type,
        amount_cents=row.amount_cents, terms=TermValues.model_validate(row.terms),
        collateral_id=str(row.collateral_id), deposit_account_id=str(row.deposit_account_id),
        in_flight={str(r.id): r.amount_cents for r in flying},
        **{c: getattr(row, c) for c in _STATE_COLUMNS},
    )
    return state, row


def _cvl_sort(cvl: str | None) -> Decimal | None:
    if cvl is None:
        return None
    value = Decimal(cvl)
    return Decimal("1e12") if value.is_infinite() else value


async def insert_proposal(conn: AsyncConnection, state: FacilityState, *, custodian_id: str | None,
                          actor: str) -> None:
    values = {c: getattr(state, c) for c in _STATE_COLUMNS}
    await conn.execute(insert(facilities).values(
        id=state.id, customer_id=state.customer_id, customer_type=state.customer_type,
        amount_cents=state.amount_cents, terms=state.terms.model_dump(mode="json"), custodian_id=custodian_id,
        collateral_id=state.collateral_id, deposit_account_id=state.deposit_account_id, accounts={},
        version=1, created_by=actor, created_at=func.now(), updated_at=func.now(), **values))
    await event_store.append(conn, ENTITY, state.id, 0, [("proposal_created", {
        "customer_id": state.customer_id, "amount_cents": state.amount_cents, "custodian_id": custodian_id,
        "terms": state.terms.model_dump(mode="json"), "collateral_id": state.collateral_id,
        "deposit_account_id": state.deposit_account_id, "actor": actor})])


async def save_state(conn: AsyncConnection, state: FacilityState, version: int,
                     new_events: list[tuple[str, dict[str, Any]]], *, accounts: dict[str, str] | None = None) -> int:
    """Append ``new_events`` after ``version`` and write the row; returns the new version."""
    new_version = await event_store.append(conn, ENTITY, state.id, version, new_events)
    values: dict[str, Any] = {c: getattr(state, c) for c in _STATE_COLUMNS}
    values.update(version=new_version, updated_at=func.now(), cvl_sort=_cvl_sort(state.cvl))
    if accounts is not None:
        values["accounts"] = accounts
    await conn.execute(update(facilities).where(facilities.c.id == state.id).values(**values))
    return new_version


async def record_collateralization(conn: AsyncConnection, state: FacilityState, *, state_value: str, cvl: str,
                                   outstanding_cents: int, price_cents: int) -> dict[str, Any]:
    """One history row per change of the collateralization state; returns the event payload."""
    seq = (await conn.execute(select(func.coalesce(func.max(collateralization_history.c.seq), 0)).where(
        collateralization_history.c.facility_id == state.id))).scalar_one() + 1
    payload = {"stage": state.stage.value, "state": state_value, "cvl": cvl,
               "collateral_sats": state.collateral_sats, "outstanding_cents": outstanding_cents,
               "price_cents": price_cents}
    await conn.execute(insert(collateralization_history).values(facility_id=state.id, seq=seq,
                                                                recorded_at=func.now(), **payload))
    return payload
