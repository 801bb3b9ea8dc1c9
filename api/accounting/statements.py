"""Statements (AC11–AC13) as JSON or CSV, and a ledger account's history as CSV.

JSON amounts are integers in minor units (cents / satoshis); CSV amounts are exact decimal strings in
major units. Each statement is for one currency (``USD`` or ``BTC``) and layer (default settled).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from activities.accounting import statements
from api.authz import Principal, require
from api.deps import ReadConn
from api.enums import ApiEnum, api_enum
from domain.accounting import statements as st
from domain.errors import ValidationFailed
from domain.ledger.model import Currency as Ccy
from domain.ledger.model import Layer, NormalSide

router = APIRouter(tags=["accounting: statements"])

Currency = Annotated[ApiEnum[Ccy], Query(description="Currency of the statement")]
LayerQ = Annotated[ApiEnum[Layer], Query(description="Balance layer")]
Format = Annotated[api_enum("json", "csv"), Query(description="JSON (minor units) or CSV (major units)")]
From = Annotated[dt.date, Query(alias="from", description="Period start (effective date, inclusive)")]
Until = Annotated[dt.date, Query(description="Period end (effective date, inclusive)")]
CSV = {200: {"content": {"application/json": {}, "text/csv": {}},
             "description": "The statement (JSON, or CSV with ?format=CSV)"}}


class TrialBalanceLine(BaseModel):
    code: str
    name: str
    parent_code: str | None
    level: int
    normal_balance: ApiEnum[NormalSide]
    opening_balance: int
    period_debits: int
    period_credits: int
    closing_balance: int
    closing_debits: int
    closing_credits: int


class TrialBalanceTotals(BaseModel):
    opening_debits: int
    opening_credits: int
    period_debits: int
    period_credits: int
    closing_debits: int
    closing_credits: int
    balanced: bool


class TrialBalanceOut(BaseModel):
    from_: dt.date = Field(serialization_alias="from")
    until: dt.date
    currency: ApiEnum[Ccy]
    layer: ApiEnum[Layer]
    lines: list[TrialBalanceLine]
    totals: TrialBalanceTotals


class StatementLine(BaseModel):
    code: str
    name: str
    level: int
    normal_balance: ApiEnum[NormalSide]
    balance: int


class Section(BaseModel):
    total: int
    lines: list[StatementLine]


class EquitySection(Section):
    equity_accounts: int
    current_earnings: int
    current_year_earnings: int


class BalanceSheetOut(BaseModel):
    as_of: dt.date
    currency: ApiEnum[Ccy]
    layer: ApiEnum[Layer]
    fiscal_year_start: dt.date
    assets: Section
    liabilities: Section
    equity: EquitySection
    total_liabilities_and_equity: int
    balanced: bool


class ProfitAndLossOut(BaseModel):
    from_: dt.date = Field(serialization_alias="from")
    until: dt.date
    currency: ApiEnum[Ccy]
    layer: ApiEnum[Layer]
    revenue: Section
    cost_of_revenue: Section
    expenses: Section
    gross_profit: int
    net_income: int


def _period(start: dt.date, until: dt.date) -> None:
    if until < start:
        raise ValidationFailed("until must not precede from.", code="accounting.invalid_period")


def _csv(body: str, name: str) -> Response:
    return Response(body, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/statements/trial-balance", response_model=TrialBalanceOut, responses=CSV,
            summary="Trial balance: every chart node's opening, period debits/credits and closing")
async def trial_balance(conn: ReadConn, start: From, until: Until, currency: Currency = Ccy.USD,
                        layer: LayerQ = Layer.SETTLED, format: Format = "json",
                        principal: Principal = require("accounting:trial-balance:read")):
    _period(start, until)
    tb = await statements.trial_balance(conn, start, until, currency, layer)
    if format == "csv":
        return _csv(st.trial_balance_csv(tb, currency), f"trial-balance-{start}-{until}-{currency}.csv")
    return TrialBalanceOut(from_=tb.pop("from"), **tb)


@router.get("/statements/balance-sheet", response_model=BalanceSheetOut, responses=CSV,
            summary="Balance sheet at a date: assets = liabilities + equity (with current earnings)")
async def balance_sheet(conn: ReadConn, as_of: Annotated[dt.date, Query(description="Date (inclusive)")],
                        currency: Currency = Ccy.USD, layer: LayerQ = Layer.SETTLED, format: Format = "json",
                        principal: Principal = require("accounting:balance-sheet:read")):
    bs = await statements.balance_sheet(conn, as_of, currency, layer)
    if format == "csv":
        return _csv(st.balance_sheet_csv(bs, currency), f"balance-sheet-{as_of}-{currency}.csv")
    return BalanceSheetOut(**bs)


@router.get("/statements/profit-and-loss", response_model=ProfitAndLossOut, responses=CSV,
            summary="Profit and loss for a period: revenue − cost of revenue − expenses")
async def profit_and_loss(conn: ReadConn, start: From, until: Until, currency: Currency = Ccy.USD,
                          layer: LayerQ = Layer.SETTLED, format: Format = "json",
                          principal: Principal = require("accounting:profit-and-loss:read")):
    _period(start, until)
    pl = await statements.profit_and_loss(conn, start, until, currency, layer)
    if format == "csv":
        return _csv(st.profit_and_loss_csv(pl, currency), f"profit-and-loss-{start}-{until}-{currency}.csv")
    return ProfitAndLossOut(from_=pl.pop("from"), **pl)


@router.get("/ledger-accounts/{account_id}/history.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "Entries, newest first"}},
            summary="Export a ledger account's entry history as CSV")
async def account_history_csv(account_id: uuid.UUID, conn: ReadConn,
                              principal: Principal = require("accounting:ledger-account:read-history",
                                                             id_param="account_id")):
    rows = await statements.account_history(conn, account_id)
    return _csv(st.history_csv(rows), f"ledger-account-{account_id}.csv")
