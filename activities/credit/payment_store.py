"""Load and save payments and their allocations (tables ``credit_payments``,
``credit_payment_allocations``, migration 0070_credit_payments), and the obligations a payment
allocates to. Everything runs in the caller's transaction (the payment step's one transaction).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.credit import lifecycle_store as ls
from activities.credit.tables import obligations, payment_allocations, payments
from domain.credit.messages import AllocationInfo
from domain.credit.obligation import Allocation, Obligation
from domain.credit.payment import Payment


async def payment_row(conn: AsyncConnection, payment_id: str):
    return (await conn.execute(select(payments).where(payments.c.id == payment_id))).first()


async def allocation_rows(conn: AsyncConnection, payment_ids: Sequence[str]) -> dict[str, list]:
    """The allocations of each payment, in allocation order."""
    out: dict[str, list] = {str(p): [] for p in payment_ids}
    if payment_ids:
        a = payment_allocations
        for r in await conn.execute(select(a).where(a.c.payment_id.in_(list(payment_ids)))
                                    .order_by(a.c.payment_id, a.c.seq)):
            out[str(r.payment_id)].append(r)
    return out


def allocation_info(r) -> AllocationInfo:
    return AllocationInfo(id=str(r.id), obligation_id=str(r.obligation_id), obligation_type=r.obligation_type,
                          obligation_status=r.obligation_status, amount_cents=r.amount_cents, idx=r.idx,
                          ledger_tx_id=str(r.ledger_tx_id))


async def open_obligations(conn: AsyncConnection, facility_id: str) -> list[Obligation]:
    """The facility's obligations with something outstanding, rows locked (a concurrent end-of-day
    transition of one of them waits for the payment, then sees its new outstanding)."""
    o = obligations
    rows = await conn.execute(select(o).where(o.c.facility_id == facility_id, o.c.outstanding_cents > 0)
                              .order_by(o.c.id).with_for_update())
    return [ls.obligation_from_row(r) for r in rows]


async def insert_payment(conn: AsyncConnection, p: Payment, allocations: Sequence[tuple[Allocation, str]]) -> None:
    """The payment's row and events, and one row per ``(allocation, receivable account id)`` in
    allocation order. Ledger transaction ids are the payment's and each allocation's own id."""
    await conn.execute(insert(payments).values(
        id=p.id, facility_id=p.facility_id, amount_cents=p.amount_cents, allocated_cents=p.allocated_cents,
        effective=p.effective, source_account_id=p.source_account_id, ledger_tx_id=p.id,
        recorded_by=p.actor, version=len(p.pending), created_at=func.now()))
    await event_store.save_entity(conn, p)
    if allocations:
        await conn.execute(insert(payment_allocations).values(created_at=func.now()), [
            {"id": a.id, "payment_id": a.payment_id, "seq": n, "facility_id": a.facility_id,
             "obligation_id": a.obligation_id, "obligation_type": a.obligation_type.value,
             "obligation_status": a.obligation_status.value, "amount_cents": a.amount_cents, "idx": a.idx,
             "receivable_account_id": account, "effective": a.effective, "ledger_tx_id": a.id}
            for n, (a, account) in enumerate(allocations, start=1)])


def allocation_info_of(a: Allocation, ledger_tx_id: str) -> AllocationInfo:
    return AllocationInfo(id=a.id, obligation_id=a.obligation_id, obligation_type=a.obligation_type.value,
                          obligation_status=a.obligation_status.value, amount_cents=a.amount_cents, idx=a.idx,
                          ledger_tx_id=ledger_tx_id)
