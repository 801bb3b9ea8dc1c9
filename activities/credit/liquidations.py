"""Partial liquidation steps (credit.md §9.2–§9.3). Each is ONE transaction under the facility's
row lock (so it is serialised with the facility's own steps and payments), then the liquidation's
row lock.

- ``initiate``: the facility's stored state is UnderLiquidationThreshold with something outstanding
  and no liquidation open (partial unique index ``ux_credit_liquidations_open``): a Liquidation is
  created with the amounts of §9.2 at the stored collateral, outstanding and price (the price that
  recorded the state). Id = UUIDv5(facility, ordinal): a retried step finds the open one and answers
  it (nothing new). The facility's history gets ``liquidation_initiated``.
- ``collateral_sent``: SEND_COLLATERAL_TO_LIQUIDATION (key ``liquidation:{id}:sent:{n}``), the
  facility's collateral decreases (``collateral_sent_to_liquidation``; not an operator update, so
  ``collateral_seq`` stays) and its CVL is recomputed (``recompute_collateralization``). A command id
  already recorded is answered as it was.
- ``receive_proceeds``: once; RECEIVE_PROCEEDS_FROM_LIQUIDATION (key ``liquidation:{id}:proceeds``:
  USD into the facility's proceeds account, every sat sent from in-liquidation to liquidated).
- ``apply_proceeds``: the payment from the proceeds account through the payment step
  (``payments.record_payment``, payment id = UUIDv5(liquidation, "proceeds"), allocated like any
  other), at most the uncovered outstanding (the rest stays in the proceeds account), then the
  liquidation ``completed`` and the facility's ``liquidation_completed``: the window closes.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store, ledger
from activities.credit import facility_accounts as fa
from activities.credit import payments, store
from activities.credit.operations import recompute_collateralization
from activities.credit.tables import liquidation_collateral_sent as sent_t
from activities.credit.tables import liquidations as liq_t
from activities.price.store import latest_price
from domain.credit.cvl import CollateralizationState
from domain.credit.errors import LiquidationNotFound, NoActiveLiquidation
from domain.credit.facility import CreditFacility
from domain.credit.liquidation import Liquidation, LiquidationStatus, amounts, should_start
from domain.credit.liquidation_messages import (
    ApplyProceedsInput,
    CollateralSentInput,
    InitiateLiquidationInput,
    LiquidationInfo,
    LiquidationStepResult,
    ProceedsInput,
)
from domain.credit.messages import CollateralizationSignal, PaymentInput
from ground.settings import Settings

_NS = uuid.UUID("8d1f3b52-6a0e-4c47-9e21-3f5b7a9c0d14")


def liquidation_id(facility_id: str, seq: int) -> str:
    return str(uuid.uuid5(_NS, f"{facility_id}:{seq}"))


def proceeds_payment_id(liq_id: str) -> str:
    """The proceeds' payment: derived from the liquidation, so the payment step answers a replay."""
    return str(uuid.uuid5(_NS, f"{liq_id}:proceeds"))


def info_of(r) -> LiquidationInfo:
    return LiquidationInfo(
        id=str(r.id), facility_id=str(r.facility_id), collateral_id=str(r.collateral_id), seq=r.seq, status=r.status,
        trigger_price_cents=r.trigger_price_cents, expected_to_receive_cents=r.expected_to_receive_cents,
        estimated_to_liquidate_sats=r.estimated_to_liquidate_sats, sent_total_sats=r.sent_total_sats,
        sent_count=r.sent_count, proceeds_cents=r.proceeds_cents,
        payment_id=str(r.payment_id) if r.payment_id else None, version=r.version, created_at=r.created_at,
        completed_at=r.completed_at)


async def liquidation_row(conn: AsyncConnection, liq_id: str, *, lock: bool = False):
    q = select(liq_t).where(liq_t.c.id == liq_id)
    return (await conn.execute(q.with_for_update() if lock else q)).first()


async def open_liquidation_row(conn: AsyncConnection, *, facility_id: str | None = None,
                               collateral_id: str | None = None):
    q = select(liq_t).where(liq_t.c.status != LiquidationStatus.COMPLETED)
    q = q.where(liq_t.c.facility_id == facility_id) if facility_id else q.where(liq_t.c.collateral_id == collateral_id)
    return (await conn.execute(q)).first()


async def _load(conn: AsyncConnection, liq_id: str) -> Liquidation:
    liq = await event_store.load_entity(conn, Liquidation, liq_id)
    if liq is None:
        raise LiquidationNotFound(f"Liquidation {liq_id} not found.")
    return liq


async def _save(conn: AsyncConnection, liq: Liquidation, **extra) -> None:
    await event_store.save_entity(conn, liq)
    await conn.execute(update(liq_t).where(liq_t.c.id == liq.id).values(
        status=liq.status, sent_total_sats=liq.sent_total_sats, sent_count=liq.sent_count,
        proceeds_cents=liq.proceeds_cents, payment_id=liq.payment_id, version=liq.version, **extra))


def _signal(f: CreditFacility) -> CollateralizationSignal | None:
    s = f.state
    if s.collateralization is None:
        return None
    return CollateralizationSignal(facility_id=f.id, state=s.collateralization, cvl=s.cvl or "0",
                                   price_cents=s.price_cents or 0, outstanding_cents=s.outstanding_cents,
                                   collateral_sats=s.collateral_sats, version=s.version, reason="liquidation")


async def _accounts(conn: AsyncConnection, f: CreditFacility) -> dict[str, str]:
    s = f.state
    f.attach_accounts(await fa.ensure_active_accounts(conn, f.id, s.customer_type, s.terms, f.accounts))
    return f.accounts


async def initiate(conn: AsyncConnection, inp: InitiateLiquidationInput) -> LiquidationInfo | None:
    f = await store.load_facility(conn, inp.facility_id)  # row locked: one initiation at a time
    found = await open_liquidation_row(conn, facility_id=f.id)
    if found is not None:
        return info_of(found)  # one open at a time (also: a retried step after its commit)
    s = f.state
    under = f.check_reevaluate() and s.collateralization is CollateralizationState.UNDER_LIQUIDATION_THRESHOLD
    if not should_start(under, s.outstanding_cents, False):
        return None
    price = s.price_cents or ((p := await latest_price(conn)) and p.usd_cents_per_btc)
    if not price:
        return None
    a = amounts(s.outstanding_cents, s.collateral_sats, price, s.terms.initial_cvl)
    seq = (await conn.execute(select(func.coalesce(func.max(liq_t.c.seq), 0) + 1)
                              .where(liq_t.c.facility_id == f.id))).scalar_one()
    liq = Liquidation.initiate(liquidation_id(f.id, seq), f.id, a)
    await conn.execute(insert(liq_t).values(
        id=liq.id, facility_id=f.id, collateral_id=s.collateral_id, seq=seq, status=liq.status,
        trigger_price_cents=a.price_cents, expected_to_receive_cents=a.to_receive_cents,
        estimated_to_liquidate_sats=a.to_liquidate_sats, sent_total_sats=0, sent_count=0,
        version=len(liq.pending), created_at=func.now()))
    await event_store.save_entity(conn, liq)
    f.liquidation_recorded("liquidation_initiated", liq.id, trigger_price_cents=a.price_cents,
                           expected_to_receive_cents=a.to_receive_cents,
                           estimated_to_liquidate_sats=a.to_liquidate_sats)
    await store.save_facility(conn, f)
    return info_of(await liquidation_row(conn, liq.id))


async def collateral_sent(conn: AsyncConnection, inp: CollateralSentInput, *, settings: Settings) -> LiquidationStepResult:
    row = await liquidation_row(conn, inp.liquidation_id)
    if row is None:
        raise LiquidationNotFound(f"Liquidation {inp.liquidation_id} not found.")
    f = await store.load_facility(conn, str(row.facility_id))  # the facility's row first (lock order)
    if (await conn.execute(select(sent_t.c.seq).where(sent_t.c.command_id == inp.command_id))).first() is not None:
        return LiquidationStepResult(liquidation=info_of(await liquidation_row(conn, inp.liquidation_id)),
                                     replayed=True)
    await liquidation_row(conn, inp.liquidation_id, lock=True)
    liq = await _load(conn, inp.liquidation_id)
    liq.collateral_sent(inp.amount_sats, f.state.collateral_sats)
    n = liq.sent_count
    acc = await _accounts(conn, f)
    today = await payments.business_date(conn, settings, inp.now)
    f.collateral_sent_to_liquidation(liq.id, inp.amount_sats, today, inp.actor)
    await store.save_facility(conn, f)
    tx = await ledger.post(conn, "SEND_COLLATERAL_TO_LIQUIDATION", {
        "collateral_account_id": acc["collateral"], "collateral_in_liquidation_account_id": acc["collateral_in_liquidation"],
        "amount": inp.amount_sats}, idempotency_key=f"liquidation:{liq.id}:sent:{n}", effective=today)
    await conn.execute(insert(sent_t).values(liquidation_id=liq.id, seq=n, command_id=inp.command_id,
                                             amount_sats=inp.amount_sats, ledger_tx_id=str(tx.id),
                                             recorded_by=inp.actor, recorded_at=func.now()))
    await _save(conn, liq)
    # §9.1: the collateral moved: CVL, state (hysteresis) and trigger prices follow, in this transaction
    await recompute_collateralization(conn, f.id, inp.now, reason="liquidation")
    f = await store.load_facility(conn, f.id)
    return LiquidationStepResult(liquidation=info_of(await liquidation_row(conn, liq.id)), facility=_signal(f))


async def receive_proceeds(conn: AsyncConnection, inp: ProceedsInput, *, settings: Settings) -> LiquidationStepResult:
    row = await liquidation_row(conn, inp.liquidation_id)
    if row is None:
        raise LiquidationNotFound(f"Liquidation {inp.liquidation_id} not found.")
    f = await store.load_facility(conn, str(row.facility_id))
    row = await liquidation_row(conn, inp.liquidation_id, lock=True)
    if row.proceeds_command_id is not None and str(row.proceeds_command_id) == inp.command_id:
        return LiquidationStepResult(liquidation=info_of(row), replayed=True)
    liq = await _load(conn, inp.liquidation_id)
    liq.proceeds_received(inp.amount_cents, proceeds_payment_id(liq.id))
    acc = await _accounts(conn, f)
    today = await payments.business_date(conn, settings, inp.now)
    tx = await ledger.post(conn, "RECEIVE_PROCEEDS_FROM_LIQUIDATION", {
        "liquidation_proceeds_omnibus_account_id": acc["liquidation_proceeds_omnibus"],
        "proceeds_from_liquidation_account_id": acc["proceeds_from_liquidation"],
        "collateral_in_liquidation_account_id": acc["collateral_in_liquidation"],
        "liquidated_collateral_account_id": acc["liquidated_collateral"],
        "amount_received": inp.amount_cents, "amount_liquidated": liq.sent_total_sats or None},
        idempotency_key=f"liquidation:{liq.id}:proceeds", effective=today)
    await _save(conn, liq, proceeds_command_id=inp.command_id, proceeds_ledger_tx_id=str(tx.id),
                proceeds_received_at=func.now())
    return LiquidationStepResult(liquidation=info_of(await liquidation_row(conn, liq.id)))


async def apply_proceeds(conn: AsyncConnection, inp: ApplyProceedsInput, *, settings: Settings,
                         workflow_id: str | None = None) -> LiquidationStepResult:
    row = await liquidation_row(conn, inp.liquidation_id)
    if row is None:
        raise LiquidationNotFound(f"Liquidation {inp.liquidation_id} not found.")
    f = await store.load_facility(conn, str(row.facility_id))
    row = await liquidation_row(conn, inp.liquidation_id, lock=True)
    if row.status == LiquidationStatus.COMPLETED:
        return LiquidationStepResult(liquidation=info_of(row), replayed=True)
    if row.status != LiquidationStatus.PROCEEDS_RECEIVED:
        raise NoActiveLiquidation(f"Liquidation {row.id} has received no proceeds yet.")
    liq = await _load(conn, inp.liquidation_id)
    acc = await _accounts(conn, f)
    uncovered = (await ledger.balance(conn, uuid.UUID(acc["uncovered_outstanding"]), "USD")).settled
    amount = min(liq.proceeds_cents or 0, uncovered)
    if amount > 0 and f.check_reevaluate():
        await payments.record_payment(conn, PaymentInput(
            facility_id=f.id, payment_id=liq.payment_id, amount_cents=amount, actor="system:liquidation",
            now=inp.now), settings=settings, workflow_id=workflow_id,
            source_account_id=acc["proceeds_from_liquidation"])
    liq.complete()
    await _save(conn, liq, completed_at=func.now())
    f = await store.load_facility(conn, f.id)
    f.liquidation_recorded("liquidation_completed", liq.id, proceeds_cents=liq.proceeds_cents,
                           payment_id=liq.payment_id, paid_cents=amount)
    await store.save_facility(conn, f)
    return LiquidationStepResult(liquidation=info_of(await liquidation_row(conn, liq.id)), facility=_signal(f))
