"""Fiscal years (AC14–AC18) and manual transactions (AC10)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from activities.accounting import fiscal_years, manual_transactions
from api.authz import Principal, require
from api.deps import EngineDep, ReadConn
from api.enums import ApiEnum
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, cursor_after, page_from, page_params
from domain.errors import ValidationFailed
from domain.ledger.model import Currency, Direction, Layer

router = APIRouter(tags=["accounting: fiscal years and manual transactions"])


def _now(request: Request) -> dt.datetime:
    """The wall clock (overridable in tests through ``app.state.clock``)."""
    return dt.datetime.fromtimestamp(getattr(request.app.state, "clock", time.time)(), dt.UTC)


class MonthClosure(BaseModel):
    month_closed_as_of: dt.date
    month_closed_at: dt.datetime


class FiscalYearOut(BaseModel):
    id: uuid.UUID
    year: int
    reference: str
    opened_as_of: dt.date
    closes_as_of: dt.date
    month_closures: list[MonthClosure]
    last_closed_month: dt.date | None
    closed_as_of: dt.date | None
    closed_at: dt.datetime | None
    closing_tx_id: uuid.UUID | None
    is_open: bool
    created_at: dt.datetime


def _fy(row: dict[str, Any]) -> FiscalYearOut:
    return FiscalYearOut(**row, is_open=row["closed_as_of"] is None)


class NewFiscalYear(BaseModel):
    opened_as_of: dt.date


@router.post("/fiscal-years", status_code=201, response_model=FiscalYearOut,
             summary="Open the first fiscal year and every later one through the current year "
                     "(returns the latest year if one exists)")
async def init_fiscal_year(body: NewFiscalYear, request: Request, response: Response, engine: EngineDep,
                           principal: Principal = require("accounting:fiscal-year:create"),
                           _idem: str | None = idempotent()) -> FiscalYearOut:
    async with engine.begin() as conn:
        fy, _created = await fiscal_years.init_first(conn, body.opened_as_of, _now(request).date())
    response.headers["Location"] = f"/api/v1/fiscal-years/{fy['id']}"
    return _fy(fy)


@router.get("/fiscal-years", response_model=Page[FiscalYearOut], summary="Fiscal years, newest first")
async def list_fiscal_years(conn: ReadConn, principal: Principal = require("accounting:fiscal-year:list")):
    return Page[FiscalYearOut](items=[_fy(r) for r in await fiscal_years.list_all(conn)], next_cursor=None)


@router.get("/fiscal-years/by-year/{year}", response_model=FiscalYearOut)
async def get_fiscal_year_by_year(year: int, conn: ReadConn,
                                  principal: Principal = require("accounting:fiscal-year:read")):
    if not 1900 <= year <= 9999:
        raise ValidationFailed("year must be between 1900 and 9999.", code="accounting.invalid_year")
    return _fy(await fiscal_years.by_year(conn, year))


@router.get("/fiscal-years/{fiscal_year_id}", response_model=FiscalYearOut)
async def get_fiscal_year(fiscal_year_id: uuid.UUID, conn: ReadConn,
                          principal: Principal = require("accounting:fiscal-year:read", id_param="fiscal_year_id")):
    return _fy(await fiscal_years.get(conn, fiscal_year_id))


@router.post("/fiscal-years/{fiscal_year_id}/close-month", response_model=FiscalYearOut,
             summary="Close the next month (it must have ended); no posting may be dated in it afterwards")
async def close_month(fiscal_year_id: uuid.UUID, request: Request, engine: EngineDep,
                      principal: Principal = require("accounting:fiscal-year:close-month", id_param="fiscal_year_id"),
                      _chart: Principal = require("accounting:chart:close-monthly")) -> FiscalYearOut:
    now = _now(request)
    async with engine.begin() as conn:
        return _fy(await fiscal_years.close_month(conn, fiscal_year_id, now.date(), now))


@router.post("/fiscal-years/{fiscal_year_id}/close", response_model=FiscalYearOut,
             summary="Close the year: closing transaction moves P&L balances to retained earnings (idempotent)")
async def close_year(fiscal_year_id: uuid.UUID, request: Request, engine: EngineDep,
                     principal: Principal = require("accounting:fiscal-year:close", id_param="fiscal_year_id")):
    async with engine.begin() as conn:
        return _fy(await fiscal_years.close_year(conn, fiscal_year_id, _now(request)))


@router.post("/fiscal-years/{fiscal_year_id}/open-next", response_model=FiscalYearOut,
             summary="Open the following fiscal year (idempotent)")
async def open_next(fiscal_year_id: uuid.UUID, request: Request, engine: EngineDep,
                    principal: Principal = require("accounting:fiscal-year:create", id_param="fiscal_year_id")):
    async with engine.begin() as conn:
        fy, _created = await fiscal_years.open_next(conn, fiscal_year_id, _now(request).date())
    return _fy(fy)


# --- Manual transactions ---------------------------------------------------------------------

AMOUNT_PATTERN = r"^[0-9]{1,17}(\.[0-9]{1,18})?$"


class ManualEntryIn(BaseModel):
    account_ref: str = Field(min_length=1, max_length=200, description="Ledger account id, or a leaf chart code")
    amount: str = Field(min_length=1, max_length=36, pattern=AMOUNT_PATTERN,
                        description="Decimal string in major units, e.g. \"12.30\": at most 17 integer digits "
                                    "and 18 decimals (the minor units must fit the ledger's 64-bit integers)")
    currency: ApiEnum[Currency]
    direction: ApiEnum[Direction]
    description: str = Field("", max_length=500)


class ManualTransactionIn(BaseModel):
    description: str = Field(min_length=1, max_length=500)
    effective: dt.date
    reference: str | None = Field(None, min_length=1, max_length=200)
    entries: list[ManualEntryIn] = Field(min_length=2, max_length=200)


class LedgerEntryOut(BaseModel):
    sequence: int
    account_id: uuid.UUID
    currency: ApiEnum[Currency]
    units: int
    direction: ApiEnum[Direction]
    layer: ApiEnum[Layer]
    entry_type: str


class ManualTransactionOut(BaseModel):
    id: uuid.UUID
    reference: str
    description: str
    effective: dt.date
    ledger_transaction_id: uuid.UUID
    created_by: str
    created_at: dt.datetime
    entries: list[LedgerEntryOut] = []


def _mt(row: dict[str, Any]) -> ManualTransactionOut:
    entries = row.get("ledger_transaction", {}).get("entries", [])
    return ManualTransactionOut(**{k: v for k, v in row.items() if k != "ledger_transaction"},
                                entries=[LedgerEntryOut(**e) for e in entries])


@router.post("/manual-transactions", status_code=201, response_model=ManualTransactionOut,
             summary="Post a balanced manual journal entry (amounts in major units); nothing posted on error")
async def post_manual_transaction(body: ManualTransactionIn, request: Request, response: Response,
                                  engine: EngineDep,
                                  principal: Principal = require("accounting:manual-transaction:create"),
                                  _idem: str | None = idempotent()) -> ManualTransactionOut:
    reference = body.reference or str(new_entity_id(request))
    entries = [manual_transactions.EntryIn(e.account_ref, e.amount, str(e.currency), str(e.direction), e.description)
               for e in body.entries]
    async with engine.begin() as conn:
        row = await manual_transactions.execute(conn, reference=reference, description=body.description,
                                                effective=body.effective, entries=entries, actor=principal.subject)
    response.headers["Location"] = f"/api/v1/manual-transactions/{row['id']}"
    return _mt(row)


@router.get("/manual-transactions/{manual_transaction_id}", response_model=ManualTransactionOut)
async def get_manual_transaction(manual_transaction_id: uuid.UUID, conn: ReadConn,
                                 principal: Principal = require("accounting:manual-transaction:read",
                                                                id_param="manual_transaction_id")):
    return _mt(await manual_transactions.get(conn, manual_transaction_id))


@router.get("/manual-transactions", response_model=Page[ManualTransactionOut])
async def list_manual_transactions(conn: ReadConn, page: PageParams = Depends(page_params),
                                   principal: Principal = require("accounting:manual-transaction:list")):
    rows = await manual_transactions.list_page(conn, page.first + 1, cursor_after(page, dt.datetime, uuid.UUID))
    return page_from(rows, page, lambda r: (r["created_at"], r["id"]), _mt)
