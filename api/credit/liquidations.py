"""Liquidations (api-surface §8 CR15–CR18; credit.md §9).

``POST /collaterals/{id}/liquidation/collateral-sent`` [IK] and ``…/proceeds-received`` [IK] send
the open liquidation's workflow (``liquidation-{id}``) the Updates ``record_collateral_sent`` /
``record_proceeds``. The command id comes from the Idempotency-Key (``new_entity_id``): a repeated
request is answered from the stored rows without calling the workflow (so a replay works after the
liquidation has closed too) and never sends or pays twice. ``GET /liquidations`` (keyset pages,
sorts ``created_at | expected_to_receive | sent_total | amount_received``), ``GET
/liquidations/{id}`` and ``GET /liquidations/{id}/payment-quote`` (what-if at the current price, no
state change). Permissions ``credit-collateral:…`` (the ``credit_writer`` / ``credit_viewer`` sets).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select, tuple_

from activities.credit.activity import liquidation_workflow_id
from activities.credit.liquidations import liquidation_row, open_liquidation_row
from activities.credit.tables import facilities
from activities.credit.tables import liquidation_collateral_sent as sent_t
from activities.credit.tables import liquidations as liq_t
from activities.price.store import latest_price
from api.authz import Principal, require
from api.credit.facilities import UNAVAILABLE
from api.credit.schemas import DirectionDep
from api.deps import ReadConn, TemporalDep
from api.enums import api_enum
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, cursor_after, page_from, page_params
from api.workflow_calls import call
from domain.credit.errors import (
    FacilityNotFound,
    LiquidationNotFound,
    NoActiveLiquidation,
)
from domain.credit.liquidation import (
    effective_price_cents,
    premium_percent,
    to_receive_cents,
)
from domain.credit.liquidation_messages import CollateralSentCommand, ProceedsCommand
from domain.credit.money import cents_to_sats_round_up, sats_to_cents_round_down
from domain.credit.terms import TermValues
from domain.price.model import NoPrice
from workflows.liquidation import LiquidationWorkflow

router = APIRouter(tags=["credit: liquidations"])
LiquidationStatusOut = api_enum("open", "proceeds_received", "completed")
LiquidationSort = api_enum("created_at", "expected_to_receive", "sent_total", "amount_received")
SENT = "credit-collateral:collateral:record-liquidation-update"
PROCEEDS = "credit-collateral:collateral:record-payment-received-from-liquidation"
READ, LIST = "credit-collateral:liquidation:read", "credit-collateral:liquidation:list"
_REFUSALS = {409: {"description": "No open liquidation for this collateral (credit.no_active_liquidation), "
                                  "proceeds already received (credit.liquidation_proceeds_already_received)"},
             422: {"description": "Amount not positive (credit.invalid_liquidation_amount) or above the "
                                  "facility's collateral (credit.liquidation_amount_exceeds_collateral)"}}


class CollateralSentCreate(BaseModel):
    amount: int = Field(gt=0, le=10**15, description="Satoshis sent to the liquidator")


class ProceedsCreate(BaseModel):
    amount: int = Field(gt=0, le=10**15, description="USD cents received from the liquidator")


class CollateralSentOut(BaseModel):
    seq: int
    amount: int = Field(description="Satoshis")
    ledger_tx_id: str
    recorded_at: datetime


class LiquidationOut(BaseModel):
    id: str
    credit_facility_id: str
    collateral_id: str
    seq: int = Field(description="The facility's n-th liquidation")
    status: LiquidationStatusOut
    trigger_price_cents: int = Field(description="BTC price (cents) that recorded UnderLiquidationThreshold")
    expected_to_receive: int = Field(description="Cents to receive to restore the initial CVL (§9.2)")
    estimated_to_liquidate: int = Field(description="Satoshis to sell at the trigger price (§9.2)")
    effective_price_cents: int | None = Field(description="expected_to_receive / BTC(estimated), rounded up")
    sent_total: int = Field(description="Satoshis sent to the liquidator so far")
    sent_count: int
    amount_received: int | None = Field(description="Cents of proceeds (once received)")
    payment_id: str | None = Field(description="The payment the proceeds became")
    created_at: datetime
    completed_at: datetime | None
    collateral_sent: list[CollateralSentOut] | None = Field(None, description="Each sending (in GET by id)")

    @classmethod
    def from_row(cls, r, sent: list | None = None) -> LiquidationOut:
        return cls(
            id=str(r.id), credit_facility_id=str(r.facility_id), collateral_id=str(r.collateral_id), seq=r.seq,
            status=r.status, trigger_price_cents=r.trigger_price_cents,
            expected_to_receive=r.expected_to_receive_cents, estimated_to_liquidate=r.estimated_to_liquidate_sats,
            effective_price_cents=effective_price_cents(r.expected_to_receive_cents, r.estimated_to_liquidate_sats),
            sent_total=r.sent_total_sats, sent_count=r.sent_count, amount_received=r.proceeds_cents,
            payment_id=str(r.payment_id) if r.payment_id else None, created_at=r.created_at,
            completed_at=r.completed_at,
            collateral_sent=None if sent is None else [
                CollateralSentOut(seq=s.seq, amount=s.amount_sats, ledger_tx_id=str(s.ledger_tx_id),
                                  recorded_at=s.recorded_at) for s in sent])


class PaymentQuoteOut(BaseModel):
    price_cents: int
    outstanding: int
    collateral: int = Field(description="The facility's collateral (sats)")
    target_cvl: str
    to_receive: int = Field(description="Cents")
    to_liquidate: int = Field(description="Satoshis")
    effective_price_cents: int | None
    premium_percent: str | None


async def _out(conn, liq_id: str) -> LiquidationOut:
    row = await liquidation_row(conn, liq_id)
    if row is None:
        raise LiquidationNotFound(f"Liquidation {liq_id} not found.")
    sent = (await conn.execute(select(sent_t).where(sent_t.c.liquidation_id == liq_id).order_by(sent_t.c.seq))).all()
    return LiquidationOut.from_row(row, list(sent))


async def _collateral_exists(conn, collateral_id: uuid.UUID) -> None:
    found = (await conn.execute(select(facilities.c.id).where(facilities.c.collateral_id == str(collateral_id)))).first()
    if found is None:
        raise FacilityNotFound(f"No facility holds collateral {collateral_id}.")


async def _open(conn, collateral_id: uuid.UUID):
    row = await open_liquidation_row(conn, collateral_id=str(collateral_id))
    if row is None:
        raise NoActiveLiquidation(f"Collateral {collateral_id} has no open liquidation.")
    return row


@router.post("/collaterals/{collateral_id}/liquidation/collateral-sent", response_model=LiquidationOut,
             responses={**_REFUSALS, **UNAVAILABLE},
             summary="Record collateral sent to the liquidator (repeatable): the facility's collateral decreases")
async def record_collateral_sent(
    collateral_id: uuid.UUID, body: CollateralSentCreate, request: Request, conn: ReadConn, temporal: TemporalDep,
    principal: Principal = require(SENT, id_param="collateral_id"), _idem: str | None = idempotent(),
) -> LiquidationOut:
    await _collateral_exists(conn, collateral_id)
    command_id = str(new_entity_id(request))
    done = (await conn.execute(select(sent_t.c.liquidation_id).where(sent_t.c.command_id == command_id))).first()
    if done is not None:  # a repeated request: answered as stored, nothing sent again
        return await _out(conn, str(done.liquidation_id))
    row = await _open(conn, collateral_id)
    # its workflow is started just after the row's commit: not found yet = 503, safe to repeat
    await conn.rollback()  # no snapshot held while the workflow writes
    handle = temporal.get_workflow_handle(liquidation_workflow_id(str(row.id)))
    result = await call(handle.execute_update(LiquidationWorkflow.record_collateral_sent, CollateralSentCommand(
        command_id=command_id, amount_sats=body.amount, actor=principal.subject)))
    return await _out(conn, result.liquidation.id)


@router.post("/collaterals/{collateral_id}/liquidation/proceeds-received", response_model=LiquidationOut,
             responses={**_REFUSALS, **UNAVAILABLE},
             summary="Record the proceeds received (once): they become a payment allocated like any other")
async def record_proceeds(
    collateral_id: uuid.UUID, body: ProceedsCreate, request: Request, response: Response, conn: ReadConn,
    temporal: TemporalDep, principal: Principal = require(PROCEEDS, id_param="collateral_id"),
    _idem: str | None = idempotent(),
) -> LiquidationOut:
    await _collateral_exists(conn, collateral_id)
    command_id = str(new_entity_id(request))
    done = (await conn.execute(select(liq_t.c.id).where(liq_t.c.proceeds_command_id == command_id))).first()
    if done is not None:  # a repeated request: answered as stored, never paid twice
        return await _out(conn, str(done.id))
    row = await _open(conn, collateral_id)
    await conn.rollback()
    handle = temporal.get_workflow_handle(liquidation_workflow_id(str(row.id)))
    result = await call(handle.execute_update(LiquidationWorkflow.record_proceeds, ProceedsCommand(
        command_id=command_id, amount_cents=body.amount, actor=principal.subject)))
    response.headers["Location"] = f"/api/v1/liquidations/{result.liquidation.id}"
    return await _out(conn, result.liquidation.id)


_SORT_COLUMNS = {"created_at": liq_t.c.created_at, "expected_to_receive": liq_t.c.expected_to_receive_cents,
                 "sent_total": liq_t.c.sent_total_sats, "amount_received": func.coalesce(liq_t.c.proceeds_cents, 0)}


@router.get("/liquidations", response_model=Page[LiquidationOut], summary="Liquidations (keyset pages, sorted)")
async def list_liquidations(
    conn: ReadConn, page: PageParams = Depends(page_params), direction: str = DirectionDep,
    sort: LiquidationSort = "created_at",
    credit_facility_id: Annotated[uuid.UUID | None, Query(description="Only this facility's")] = None,
    status: LiquidationStatusOut | None = None,
    principal: Principal = require(LIST),
) -> Page[LiquidationOut]:
    col = _SORT_COLUMNS[sort]
    key = tuple_(col, liq_t.c.id)
    q = select(liq_t, col.label("sort_key"))
    if credit_facility_id is not None:
        q = q.where(liq_t.c.facility_id == str(credit_facility_id))
    if status is not None:
        q = q.where(liq_t.c.status == status)
    after = cursor_after(page, datetime if sort == "created_at" else int, uuid.UUID)
    if after:
        bound = tuple_(after[0], str(after[1]))
        q = q.where(key < bound if direction == "desc" else key > bound)
    order = (col.desc(), liq_t.c.id.desc()) if direction == "desc" else (col.asc(), liq_t.c.id.asc())
    rows = (await conn.execute(q.order_by(*order).limit(page.first + 1))).all()
    return page_from(rows, page, lambda r: (r.sort_key, r.id), LiquidationOut.from_row)


@router.get("/liquidations/{liquidation_id}", response_model=LiquidationOut, summary="One liquidation")
async def get_liquidation(liquidation_id: uuid.UUID, conn: ReadConn,
                          principal: Principal = require(READ, id_param="liquidation_id")) -> LiquidationOut:
    return await _out(conn, str(liquidation_id))


@router.get("/liquidations/{liquidation_id}/payment-quote", response_model=PaymentQuoteOut,
            responses={503: {"description": "No BTC price recorded (price.no_price)"}},
            summary="What-if at the current price: sats to sell, cents to receive, effective price, premium")
async def payment_quote(
    liquidation_id: uuid.UUID, conn: ReadConn,
    outstanding: Annotated[int, Query(ge=0, le=10**15, description="Outstanding (cents) to quote against")],
    to_receive: Annotated[int | None, Query(ge=0, le=10**15, description="Cents to receive (fixes the sats)")] = None,
    to_liquidate: Annotated[int | None, Query(ge=0, le=10**15, description="Sats to sell (fixes the cents)")] = None,
    target_cvl: Annotated[Decimal | None, Query(gt=100, le=10_000, description="Default: the initial CVL")] = None,
    principal: Principal = require(READ, id_param="liquidation_id"),
) -> PaymentQuoteOut:
    row = await liquidation_row(conn, str(liquidation_id))
    if row is None:
        raise LiquidationNotFound(f"Liquidation {liquidation_id} not found.")
    f = (await conn.execute(select(facilities.c.collateral_sats, facilities.c.terms)
                            .where(facilities.c.id == str(row.facility_id)))).one()
    price = await latest_price(conn)
    if price is None:
        raise NoPrice("No BTC price has been recorded yet.")
    p = price.usd_cents_per_btc
    target = target_cvl if target_cvl is not None else TermValues.model_validate(f.terms).initial_cvl
    if to_liquidate is not None:
        sats, cents = to_liquidate, sats_to_cents_round_down(to_liquidate, p)
    else:
        cents = to_receive if to_receive is not None else to_receive_cents(outstanding, f.collateral_sats, p, target)
        sats = cents_to_sats_round_up(cents, p)
    eff = effective_price_cents(cents, sats)
    prem = premium_percent(eff, p)
    return PaymentQuoteOut(price_cents=p, outstanding=outstanding, collateral=f.collateral_sats,
                           target_cvl=str(target), to_receive=cents, to_liquidate=sats, effective_price_cents=eff,
                           premium_percent=None if prem is None else str(prem))


