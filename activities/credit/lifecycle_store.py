"""Load and save accrual cycles, interest accruals and obligations, many at a time (the
end-of-day steps' pages) or one at a time (activation, a disbursal's settlement).

Aggregates are built from their rows (the snapshot at the row's version); saving appends their new
events (``event_store.save_entities``: one INSERT per page) and writes the rows in one statement
each, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.credit.tables import accrual_cycles, interest_accruals, obligations
from domain.credit.accrual_cycle import Accrual, AccrualCycle
from domain.credit.interest import Period
from domain.credit.obligation import DueDates, Obligation
from domain.credit.status import AccrualCycleStatus, ObligationStatus, ObligationType
from domain.credit.terms import DayCountConvention, InterestInterval


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


_SAVE_CYCLE = (update(accrual_cycles).where(accrual_cycles.c.id == bindparam("_id"),
                                            accrual_cycles.c.version == bindparam("_version"))
               .values(updated_at=func.now()))


async def save_cycles(conn: AsyncConnection, cycles: Sequence[AccrualCycle]) -> None:
    """Their new events and rows (each row checked at the version it was loaded at; the page holds
    the rows locked, so a mismatch is a bug and the events' unique sequence refuses it anyway)."""
    changed = [c for c in cycles if c.pending]
    if not changed:
        return
    rows = [{"_id": c.id, "_version": c.version, "version": c.version + len(c.pending), **_cycle_state(c)}
            for c in changed]
    await conn.execute(_SAVE_CYCLE, rows)
    await event_store.save_entities(conn, changed)


async def insert_accruals(conn: AsyncConnection, accruals: Sequence[tuple[Accrual, str | None]]) -> None:
    """The read-model rows of ``(accrual, ledger transaction id or None for a zero amount)``."""
    if accruals:
        await conn.execute(insert(interest_accruals).values(created_at=func.now()), [
            {"cycle_id": a.cycle_id, "n": a.n, "facility_id": a.facility_id, "period_start": a.period.start,
             "period_end": a.period.end, "days": a.period.days, "principal_cents": a.principal_cents,
             "amount_cents": a.amount_cents, "ledger_tx_id": tx} for a, tx in accruals])


# --- obligations ---------------------------------------------------------------------------------
def obligation_from_row(r: Any) -> Obligation:
    return Obligation(
        id=str(r.id), version=r.version, facility_id=str(r.facility_id), amount_cents=r.amount_cents,
        effective=r.effective, dates=DueDates(r.due_date, r.overdue_date, r.liquidation_date),
        obligation_type=ObligationType(r.obligation_type), status=ObligationStatus(r.status), reference=r.reference,
        disbursal_id=r.disbursal_id and str(r.disbursal_id), cycle_id=r.cycle_id and str(r.cycle_id))


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
         "outstanding_cents": o.outstanding_cents, "next_transition_date": o.next_transition_date}
        for o in changed])
    await event_store.save_entities(conn, changed)
