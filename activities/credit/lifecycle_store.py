"""Load and save accrual cycles, interest accruals and obligations, many at a time (the
end-of-day steps' pages) or one at a time (activation, a disbursal's settlement).

Aggregates are built from their rows (the snapshot at the row's version); saving appends their new
events (``event_store.save_entities``: one INSERT per page) and writes the rows in one statement
each, inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.credit.tables import accrual_cycles, obligations
from domain.credit.accrual_cycle import Accrual, AccrualCycle
from domain.credit.interest import Period
from domain.credit.obligation import DueDates, Obligation
from domain.credit.status import AccrualCycleStatus, ObligationStatus, ObligationType
from domain.credit.terms import DayCountConvention, InterestInterval
from domain.errors import ConcurrencyConflict


# --- accrual cycles ------------------------------------------------------------------------------
def cycle_from_row(r: Any) -> AccrualCycle:
    nxt = Period(r.next_period_start, r.next_period_end) if r.next_period_start else None
    return AccrualCycle(
        id=str(r.id), version=r.version, facility_id=str(r.facility_id), idx=r.idx,
        period=Period(r.start_date, r.end_date), accrual_interval=InterestInterval(r.accrual_interval),
        annual_rate=r.annual_rate, day_count=DayCountConvention(r.day_count), status=AccrualCycleStatus(r.status),
        next_period=nxt, accrual_count=r.accrual_count, accrued_cents=r.accrued_cents,
        obligation_id=r.obligation_id and str(r.obligation_id))


def _cycle_state(c: AccrualCycle) -> dict[str, Any]:
    return {"status": c.status.value, "next_period_start": c.next_period.start if c.next_period else None,
            "next_period_end": c.next_period.end if c.next_period else None, "accrual_count": c.accrual_count,
            "accrued_cents": c.accrued_cents, "obligation_id": c.obligation_id}


async def insert_cycles(conn: AsyncConnection, cycles: Sequence[AccrualCycle]) -> None:
    if not cycles:
        return
    rows = [{"id": c.id, "facility_id": c.facility_id, "idx": c.idx, "start_date": c.period.start,
             "end_date": c.period.end, "accrual_interval": c.accrual_interval.value, "annual_rate": c.annual_rate,
             "day_count": c.day_count.value, "version": c.version + len(c.pending), **_cycle_state(c)}
            for c in cycles]
    await conn.execute(insert(accrual_cycles).values(created_at=func.now(), updated_at=func.now()), rows)
    await event_store.save_entities(conn, list(cycles))


_SAVE_CYCLES = text(
    "UPDATE credit_accrual_cycles c SET status = v.status, next_period_start = v.next_start,"
    " next_period_end = v.next_end, accrual_count = v.n, accrued_cents = v.accrued, obligation_id = v.obligation,"
    " version = v.version, updated_at = now()"
    " FROM unnest(CAST(:ids AS uuid[]), CAST(:loaded AS bigint[]), CAST(:versions AS bigint[]),"
    " CAST(:statuses AS text[]), CAST(:next_starts AS date[]), CAST(:next_ends AS date[]), CAST(:ns AS int[]),"
    " CAST(:accrued AS bigint[]), CAST(:obligations AS uuid[]))"
    " AS v(id, loaded, version, status, next_start, next_end, n, accrued, obligation)"
    " WHERE c.id = v.id AND c.version = v.loaded")


async def save_cycles(conn: AsyncConnection, cycles: Sequence[AccrualCycle]) -> None:
    """Their new events and rows, in two statements whatever their number; each row is checked at
    the version it was loaded at (the page holds them locked, so a mismatch means another writer
    got there first: ``ConcurrencyConflict``, the page is run again)."""
    changed = [c for c in cycles if c.pending]
    if not changed:
        return
    states = [_cycle_state(c) for c in changed]
    done = await conn.execute(_SAVE_CYCLES, {
        "ids": [uuid.UUID(c.id) for c in changed], "loaded": [c.version for c in changed],
        "versions": [c.version + len(c.pending) for c in changed], "statuses": [s["status"] for s in states],
        "next_starts": [s["next_period_start"] for s in states], "next_ends": [s["next_period_end"] for s in states],
        "ns": [s["accrual_count"] for s in states], "accrued": [s["accrued_cents"] for s in states],
        "obligations": [uuid.UUID(s["obligation_id"]) if s["obligation_id"] else None for s in states]})
    if done.rowcount != len(changed):
        raise ConcurrencyConflict("An accrual cycle of the page changed concurrently.")
    await event_store.save_entities(conn, changed)


_INSERT_ACCRUALS = text(
    "INSERT INTO credit_interest_accruals (cycle_id, n, facility_id, period_start, period_end, days,"
    " principal_cents, amount_cents, ledger_tx_id, created_at)"
    " SELECT *, now() FROM unnest(CAST(:cycles AS uuid[]), CAST(:ns AS int[]), CAST(:facilities AS uuid[]),"
    " CAST(:starts AS date[]), CAST(:ends AS date[]), CAST(:days AS int[]), CAST(:principal AS bigint[]),"
    " CAST(:amounts AS bigint[]), CAST(:txs AS uuid[]))")


async def insert_accruals(conn: AsyncConnection, accruals: Sequence[tuple[Accrual, str | None]]) -> None:
    """The read-model rows of ``(accrual, ledger transaction id or None for a zero amount)``, in
    one statement of arrays whatever their number."""
    if accruals:
        await conn.execute(_INSERT_ACCRUALS, {
            "cycles": [a.cycle_id for a, _ in accruals], "ns": [a.n for a, _ in accruals],
            "facilities": [a.facility_id for a, _ in accruals], "starts": [a.period.start for a, _ in accruals],
            "ends": [a.period.end for a, _ in accruals], "days": [a.period.days for a, _ in accruals],
            "principal": [a.principal_cents for a, _ in accruals], "amounts": [a.amount_cents for a, _ in accruals],
            "txs": [tx for _, tx in accruals]})


# --- obligations ---------------------------------------------------------------------------------
def obligation_from_row(r: Any) -> Obligation:
    return Obligation(
        id=str(r.id), version=r.version, facility_id=str(r.facility_id), amount_cents=r.amount_cents,
        effective=r.effective, dates=DueDates(r.due_date, r.overdue_date, r.liquidation_date),
        obligation_type=ObligationType(r.obligation_type), status=ObligationStatus(r.status), reference=r.reference,
        disbursal_id=r.disbursal_id and str(r.disbursal_id), cycle_id=r.cycle_id and str(r.cycle_id),
        paid_cents=r.amount_cents - r.outstanding_cents, allocation_count=getattr(r, "allocation_count", 0),
        created_at=getattr(r, "created_at", None))


async def insert_obligations(conn: AsyncConnection, new: Sequence[Obligation]) -> None:
    if not new:
        return
    await conn.execute(insert(obligations).values(created_at=func.now(), updated_at=func.now()), [
        {"id": o.id, "facility_id": o.facility_id, "disbursal_id": o.disbursal_id, "cycle_id": o.cycle_id,
         "obligation_type": o.obligation_type.value, "amount_cents": o.amount_cents,
         "outstanding_cents": o.outstanding_cents, "status": o.status.value, "reference": o.reference,
         "effective": o.effective, "due_date": o.dates.due_date, "overdue_date": o.dates.overdue_date,
         "liquidation_date": o.dates.liquidation_date, "next_transition_date": o.next_transition_date,
         "version": o.version + len(o.pending)} for o in new])
    await event_store.save_entities(conn, list(new))


_SAVE_OBLIGATION = (update(obligations).where(obligations.c.id == bindparam("_id"),
                                              obligations.c.version == bindparam("_version"))
                    .values(updated_at=func.now()))


async def save_obligations(conn: AsyncConnection, changed: Sequence[Obligation]) -> None:
    changed = [o for o in changed if o.pending]
    if not changed:
        return
    await conn.execute(_SAVE_OBLIGATION, [
        {"_id": o.id, "_version": o.version, "version": o.version + len(o.pending), "status": o.status.value,
         "outstanding_cents": o.outstanding_cents, "next_transition_date": o.next_transition_date,
         "allocation_count": o.allocation_count}
        for o in changed])
    await event_store.save_entities(conn, changed)
