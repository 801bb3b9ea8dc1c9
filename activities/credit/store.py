"""Load and save the credit aggregates: the facility (row ⇄ ``CreditFacility``), its disbursals,
obligations, collateral updates and collateralization history (tables in ``tables.py``).

The ``CreditFacility`` workflow is the only writer after creation. A facility is loaded from its
row, locked by default, with its disbursals still awaiting approval; saving appends its new events
to the ``credit_facility`` stream at the row's version (optimistic concurrency), writes one history
row per ``collateralization_changed`` event and updates the row, all in the caller's transaction
(with the ledger postings of the same step).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store, ledger
from activities.credit.lifecycle_store import insert_obligations
from activities.credit.tables import (
    collateral_updates,
    collateralization_history,
    collateralization_triggers,
    disbursals,
    facilities,
)
from activities.custody.tables import wallets as custody_wallets
from domain.credit.balance import INTEREST, PRINCIPAL, FacilityBalanceSummary, summarize
from domain.credit.cvl import TriggerPrices
from domain.credit.disbursal import Disbursal
from domain.credit.errors import DisbursalNotFound, FacilityNotFound
from domain.credit.facility import CollateralChange, CreditFacility
from domain.credit.messages import FacilityState
from domain.credit.obligation import DueDates, Obligation
from domain.credit.status import DisbursalStatus, FacilityStatus, PendingStatus, Stage
from domain.credit.terms import TermValues

ENTITY = CreditFacility.entity_type
DISBURSAL_ENTITY = Disbursal.entity_type
_STATE_COLUMNS = ("stage", "proposal_status", "pending_status", "status", "pending_collateralization",
                  "collateralization", "collateral_sats", "collateral_seq", "cvl", "price_cents", "drawn_cents",
                  "disbursed_cents", "activated_at", "maturity_date", "failed_disbursals",
                  "last_disbursal_failure", "outstanding_cents")
_HISTORY_COLUMNS = ("stage", "state", "cvl", "collateral_sats", "outstanding_cents", "price_cents", "reason")


# --- facility ----------------------------------------------------------------------------------
_ROW = select(facilities).where(facilities.c.id == bindparam("facility_id"))
_ROW_LOCKED = _ROW.with_for_update()


async def facility_row(conn: AsyncConnection, facility_id: str, *, lock: bool = False):
    row = (await conn.execute(_ROW_LOCKED if lock else _ROW, {"facility_id": facility_id})).first()
    if row is None:
        raise FacilityNotFound(f"Credit facility {facility_id} does not exist.")
    return row


async def find_facility_row(conn: AsyncConnection, facility_id: str):
    return (await conn.execute(select(facilities).where(facilities.c.id == facility_id))).first()


# The disbursals awaiting approval, {id: amount}, read with the facility's row (one statement).
_IN_FLIGHT = (select(func.coalesce(func.jsonb_object_agg(disbursals.c.id, disbursals.c.amount_cents),
                                   func.jsonb_build_object()))
              .where(disbursals.c.facility_id == facilities.c.id,
                     disbursals.c.status.in_([DisbursalStatus.NEW.value, DisbursalStatus.APPROVED.value]))
              .scalar_subquery().label("in_flight"))


# custody-price-reports.md §1.6: a custodian reports the collateral when the facility has a wallet of
# a non-manual provider (one index probe: ``facility_id`` is unique in ``custody_wallets``). A
# proposal whose custodian could not create the wallet goes on with manual collateral.
_CUSTODY_MANAGED = (select(custody_wallets.c.id)
                    .where(custody_wallets.c.facility_id == facilities.c.id, custody_wallets.c.provider != "manual")
                    .correlate(facilities)  # only the facility: a query that also joins the wallet keeps its own
                    .exists().label("custody_managed"))


# The trigger prices stored for the facility ([down, up]; NULL without a row), read with its row so
# a save whose prices did not move sends no trigger statement at all (``save_triggers``).
_STORED_TRIGGERS = (select(func.jsonb_build_array(collateralization_triggers.c.trigger_price_down,
                                                  collateralization_triggers.c.trigger_price_up))
                    .where(collateralization_triggers.c.facility_id == facilities.c.id)
                    .correlate(facilities).scalar_subquery().label("stored_triggers"))

AGGREGATE_COLUMNS = (_IN_FLIGHT, _CUSTODY_MANAGED, _STORED_TRIGGERS)  # what aggregate_from_row needs beyond the row
_LOAD = select(facilities, *AGGREGATE_COLUMNS).where(facilities.c.id == bindparam("facility_id"))
_LOAD_LOCKED = _LOAD.with_for_update(of=facilities)


async def load_facility(conn: AsyncConnection, facility_id: str, *, lock: bool = True) -> CreditFacility:
    return (await load_facility_and_row(conn, facility_id, lock=lock))[0]


async def load_facility_and_row(conn: AsyncConnection, facility_id: str, *,
                                lock: bool = True) -> tuple[CreditFacility, Any]:
    """The facility as stored (row locked by default), at the row's version, with its disbursals
    awaiting approval and whether a custodian manages its collateral, in one statement (built once)."""
    row = (await conn.execute(_LOAD_LOCKED if lock else _LOAD, {"facility_id": facility_id})).first()
    if row is None:
        raise FacilityNotFound(f"Credit facility {facility_id} does not exist.")
    f = aggregate_from_row(row)
    if not lock:  # the stored trigger prices may move before a save: the save writes them
        f.stored_triggers = None
    return f, row


def aggregate_from_row(row: Any) -> CreditFacility:
    """The aggregate from a row read with ``AGGREGATE_COLUMNS`` (its in-flight disbursals, custody,
    stored trigger prices)."""
    f = facility_from_row(row, {str(k): v for k, v in row.in_flight.items()})
    stored = row.stored_triggers
    f.stored_triggers = None if stored is None else TriggerPrices(down=stored[0], up=stored[1])
    return f


def facility_from_row(row: Any, in_flight: dict[str, int] | None = None) -> CreditFacility:
    """The aggregate at its row's snapshot; ``in_flight`` (disbursals awaiting approval) is only
    needed by the steps that draw on the facility."""
    state = FacilityState(
        id=str(row.id), customer_id=str(row.customer_id), customer_type=row.customer_type,
        amount_cents=row.amount_cents, terms=TermValues.model_validate(row.terms),
        collateral_id=str(row.collateral_id), deposit_account_id=str(row.deposit_account_id),
        custodian_id=row.custodian_id and str(row.custodian_id), in_flight=dict(in_flight or {}), version=row.version,
        **{c: getattr(row, c) for c in _STATE_COLUMNS}, custody_managed=bool(getattr(row, "custody_managed", False)),
    )
    f = CreditFacility.of(state, version=row.version, accounts=row.accounts)
    f.custodian_id, f.created_by = row.custodian_id and str(row.custodian_id), row.created_by
    return f


def _cvl_sort(cvl: str | None) -> Decimal | None:
    if cvl is None:
        return None
    value = Decimal(cvl)
    return Decimal("1e12") if value.is_infinite() else value


def _state_values(f: CreditFacility) -> dict[str, Any]:
    return {c: getattr(f.state, c) for c in _STATE_COLUMNS}


_SAVE_TRIGGERS = text(
    "INSERT INTO credit_collateralization_triggers AS t (facility_id, trigger_price_down, trigger_price_up)"
    " SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:down AS bigint[]), CAST(:up AS bigint[]))"
    " ON CONFLICT (facility_id) DO UPDATE SET trigger_price_down = EXCLUDED.trigger_price_down,"
    " trigger_price_up = EXCLUDED.trigger_price_up"
    " WHERE (t.trigger_price_down, t.trigger_price_up)"
    " IS DISTINCT FROM (EXCLUDED.trigger_price_down, EXCLUDED.trigger_price_up)")


async def save_triggers(conn: AsyncConnection, fs: list[CreditFacility]) -> None:
    """The trigger prices the facilities' stored figures give (the price pass's index), written by
    every save of a facility's state under its row lock, so the index is never stale; a row whose
    prices did not move is not rewritten, and a facility loaded with its stored prices
    (``load_facility``: ``stored_triggers``) whose prices did not move sends nothing."""
    changed = [(f, t) for f in fs if (t := f.trigger_prices()) != getattr(f, "stored_triggers", None)]
    if not changed:
        return
    await conn.execute(_SAVE_TRIGGERS, {"id": [f.id for f, _ in changed], "down": [t.down for _, t in changed],
                                        "up": [t.up for _, t in changed]})
    for f, t in changed:
        f.stored_triggers = t


async def insert_proposal(conn: AsyncConnection, f: CreditFacility) -> None:
    s = f.state
    await conn.execute(insert(facilities).values(
        id=s.id, customer_id=s.customer_id, customer_type=s.customer_type, amount_cents=s.amount_cents,
        terms=s.terms.model_dump(mode="json"), custodian_id=f.custodian_id, collateral_id=s.collateral_id,
        deposit_account_id=s.deposit_account_id, accounts=f.accounts, version=len(f.pending),
        created_by=f.created_by, created_at=func.now(), updated_at=func.now(), **_state_values(f)))
    await event_store.save_entity(conn, f)


async def save_facility(conn: AsyncConnection, f: CreditFacility) -> None:
    """Append the new events, their history rows and the row; nothing when nothing was recorded."""
    if not f.pending:
        return
    await _save_recorded(conn, f)


async def save_collateralization(conn: AsyncConnection, f: CreditFacility) -> None:
    """``save_facility``, and when nothing was recorded still the read-model figures that change
    without an event (the total outstanding, the trigger prices it gives)."""
    if f.pending:
        await _save_recorded(conn, f)
        return
    await conn.execute(update(facilities).where(facilities.c.id == f.id).values(
        outstanding_cents=f.state.outstanding_cents, updated_at=func.now()))
    await save_triggers(conn, [f])


async def _save_recorded(conn: AsyncConnection, f: CreditFacility) -> None:
    changes = [p for t, p in f.pending if t == "collateralization_changed"]
    await event_store.save_entity(conn, f)
    f.state.version = f.version
    for payload in changes:
        await _history_row(conn, f.id, payload)
    await conn.execute(_SAVE_ROW, {"b_id": f.id, "b_version": f.version, "b_cvl_sort": _cvl_sort(f.state.cvl),
                                   "b_accounts": f.accounts, **{f"b_{c}": v for c, v in _state_values(f).items()}})
    await save_triggers(conn, [f])


# Built once (docs/performance.md, 2026-12-02); bind names differ from the columns (update() reserves those).
_SAVE_ROW = update(facilities).where(facilities.c.id == bindparam("b_id")).values(
    version=bindparam("b_version"), updated_at=func.now(), cvl_sort=bindparam("b_cvl_sort"),
    accounts=bindparam("b_accounts"), **{c: bindparam(f"b_{c}") for c in _STATE_COLUMNS})


_SAVE_FACILITY = (update(facilities).where(facilities.c.id == bindparam("_id"),
                                          facilities.c.version == bindparam("_version"))
                  .values(updated_at=func.now()))


async def save_facilities(conn: AsyncConnection, fs: list[CreditFacility]) -> None:
    """``save_facility`` for a batch step's page (its rows locked): one INSERT of every new event,
    one statement for the rows. Only for events that write no collateralization history."""
    changed = [f for f in fs if f.pending]
    if not changed:
        return
    assert not any(t == "collateralization_changed" for f in changed for t, _ in f.pending)
    await conn.execute(_SAVE_FACILITY, [{"_id": f.id, "_version": f.version, "version": f.version + len(f.pending),
                                         **_state_values(f)} for f in changed])
    await event_store.save_entities(conn, changed)
    for f in changed:
        f.state.version = f.version
    await save_triggers(conn, changed)


async def _history_row(conn: AsyncConnection, facility_id: str, payload: dict[str, Any]) -> None:
    """The next history row, numbered in the same statement (the facility's row lock orders them)."""
    await conn.execute(_HISTORY_ROW, {"b_facility_id": facility_id,
                                      **{f"b_{c}": payload.get(c) for c in _HISTORY_COLUMNS}})


def _history_row_statement():
    h = collateralization_history
    facility = bindparam("b_facility_id", type_=h.c.facility_id.type)
    next_seq = select(func.coalesce(func.max(h.c.seq), 0) + 1).where(h.c.facility_id == facility).scalar_subquery()
    return insert(h).from_select(
        ["facility_id", "seq", *_HISTORY_COLUMNS, "recorded_at"],
        select(facility, next_seq, *[bindparam(f"b_{c}", type_=h.c[c].type) for c in _HISTORY_COLUMNS], func.now()))


_HISTORY_ROW = _history_row_statement()


async def insert_collateral_update(conn: AsyncConnection, f: CreditFacility, change: CollateralChange,
                                   ledger_tx_id: str, actor: str) -> None:
    await conn.execute(insert(collateral_updates).values(
        facility_id=f.id, seq=change.seq, collateral_id=f.state.collateral_id, previous_sats=change.previous_sats,
        new_sats=change.new_sats, direction=change.direction, effective=change.effective, ledger_tx_id=ledger_tx_id,
        recorded_by=actor, recorded_at=func.now()))


# --- disbursals and obligations ----------------------------------------------------------------
async def disbursal_exists(conn: AsyncConnection, disbursal_id: str) -> bool:
    return (await conn.execute(select(disbursals.c.id).where(disbursals.c.id == disbursal_id))).first() is not None


async def lock_disbursal(conn: AsyncConnection, disbursal_id: str) -> Disbursal:
    row = (await conn.execute(select(disbursals.c.id).where(disbursals.c.id == disbursal_id)
                              .with_for_update())).first()
    d = await event_store.load_entity(conn, Disbursal, disbursal_id) if row else None
    if d is None:
        raise DisbursalNotFound(f"Disbursal {disbursal_id} does not exist.")
    return d


def _concluded_at(d: Disbursal):
    return func.now() if d.status is DisbursalStatus.CONFIRMED else None


async def insert_disbursal(conn: AsyncConnection, d: Disbursal, dates: DueDates) -> None:
    await conn.execute(insert(disbursals).values(
        id=d.id, facility_id=d.facility_id, amount_cents=d.amount_cents, status=d.status.value,
        is_initial=d.is_initial, approval_process_id=d.approval_process_id, version=len(d.pending),
        created_by=d.created_by, created_at=func.now(), concluded_at=_concluded_at(d), due_date=dates.due_date,
        overdue_date=dates.overdue_date, liquidation_date=dates.liquidation_date))
    await event_store.save_entity(conn, d)


async def save_disbursal(conn: AsyncConnection, d: Disbursal) -> None:
    if not d.pending:
        return
    await event_store.save_entity(conn, d)
    await conn.execute(update(disbursals).where(disbursals.c.id == d.id).values(
        status=d.status.value, version=d.version, concluded_at=func.now(), failure_code=d.failure_code,
        failure_reason=d.failure_reason))


async def insert_obligation(conn: AsyncConnection, o: Obligation) -> None:
    """The row and the ``created`` event of a new obligation (a settled disbursal's principal)."""
    await insert_obligations(conn, [o])


async def price_sensitive_pages(conn: AsyncConnection, page_size: int):
    """The rows a price change re-evaluates (§3.6, §10): active and matured facilities and pending ones awaiting
    collateralization, with what the re-evaluation needs, page by page by id (keyset)."""
    t, after = facilities, None
    while True:
        query = (select(t.c.id, t.c.stage, t.c.collateralization, t.c.collateral_sats, t.c.disbursed_cents,
                        t.c.amount_cents, t.c.terms)
                 .where(or_(and_(t.c.stage == Stage.ACTIVE.value,
                                 t.c.status.in_([FacilityStatus.ACTIVE.value, FacilityStatus.MATURED.value])),
                            and_(t.c.stage == Stage.PENDING.value,
                                 t.c.pending_status == PendingStatus.PENDING_COLLATERALIZATION.value)))
                 .order_by(t.c.id).limit(page_size))
        rows = (await conn.execute(query if after is None else query.where(t.c.id > after))).all()
        yield rows
        if len(rows) < page_size:
            return
        after = rows[-1].id


_BALANCE_ROLES = {"facility": "USD", "collateral": "BTC", "uncovered_outstanding": "USD", "fee_income": "USD",
                  "interest_income": "USD", **dict.fromkeys((*PRINCIPAL, *INTEREST), "USD")}


async def facility_balance(conn: AsyncConnection, accounts: dict[str, str]) -> FacilityBalanceSummary:
    """credit.md §13 from the ledger: one balance read per account role, the figures by the domain."""
    roles = [(role, currency) for role, currency in _BALANCE_ROLES.items() if accounts.get(role)]
    found = await ledger.current_balances(conn, [(uuid.UUID(accounts[role]), currency) for role, currency in roles])
    return summarize({role: b for (role, _), b in zip(roles, found, strict=True)})
