"""Ledger read API: accounts, balances (current / as of / range), entries, account sets, transactions.

Money is in integer minor units (USD cents, BTC satoshis). Permissions follow the catalogue in
governance-access-audit.md: account sets are ledger accounts there (lana shows chart nodes as ledger
accounts with children), so they use ``accounting:ledger-account:read``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from activities import ledger
from api.authz import Principal, require
from api.deps import ReadConn
from api.enums import ApiEnum, api_enum
from api.pagination import Page, PageParams, cursor_after, entry_key, page_from, page_params
from domain.errors import ValidationFailed
from domain.ledger.model import BalanceControl, Currency, Direction, Layer, NormalSide

router = APIRouter(tags=["ledger"])
AccountStatus = api_enum("active", "locked")
MemberType = api_enum("account", "account_set")


class BalanceOut(BaseModel):
    currency: ApiEnum[Currency]
    settled: int
    pending: int
    encumbrance: int
    available: int
    version: int
    settled_dr: int
    settled_cr: int
    pending_dr: int
    pending_cr: int
    encumbrance_dr: int
    encumbrance_cr: int


class AccountOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    external_id: str | None
    normal_balance_type: ApiEnum[NormalSide]
    status: AccountStatus
    description: str | None
    metadata: dict[str, Any]
    balance_control: ApiEnum[BalanceControl] | None
    created_at: dt.datetime
    balances: list[BalanceOut]


class RangeOut(BaseModel):
    currency: ApiEnum[Currency]
    open: BalanceOut
    close: BalanceOut
    period: dict[str, dict[str, int]]


class BalancesOut(BaseModel):
    as_of: dt.datetime | None = None
    start: dt.date | None = None
    until: dt.date | None = None
    balances: list[BalanceOut] = []
    ranges: list[RangeOut] = []


class EntryOut(BaseModel):
    transaction_id: uuid.UUID
    sequence: int
    account_id: uuid.UUID
    currency: ApiEnum[Currency]
    units: int
    direction: ApiEnum[Direction]
    layer: ApiEnum[Layer]
    entry_type: str
    effective: dt.date
    recorded_at: dt.datetime
    template_code: str | None = None
    description: str | None = None


class MemberOut(BaseModel):
    id: uuid.UUID
    type: MemberType
    name: str


class AccountSetOut(BaseModel):
    id: uuid.UUID
    journal_id: uuid.UUID
    name: str
    external_id: str | None
    normal_balance_type: ApiEnum[NormalSide]
    description: str | None
    metadata: dict[str, Any]
    created_at: dt.datetime
    members: list[MemberOut]
    as_of: dt.datetime | None = None
    balances: list[BalanceOut]


class TransactionOut(BaseModel):
    id: uuid.UUID
    journal_id: uuid.UUID
    template_code: str
    template_version: int
    idempotency_key: str
    external_id: str | None
    correlation_id: str
    effective: dt.date
    description: str | None
    metadata: dict[str, Any]
    recorded_at: dt.datetime
    entries: list[EntryOut]


AsOf = Annotated[dt.datetime | None, Query(description="Instant (RFC 3339); balances as recorded then")]
Start = Annotated[dt.date | None, Query(alias="from", description="Range start (effective date)")]
Until = Annotated[dt.date | None, Query(description="Range end, inclusive (default today)")]


def _balances(by_ccy: dict) -> list[BalanceOut]:
    return [BalanceOut(**b.as_dict()) for b in by_ccy.values()]


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


async def _balance_view(conn, target_id: uuid.UUID, as_of, start, until, *, is_set: bool) -> BalancesOut:
    as_of = _utc(as_of)
    if start is not None:
        if as_of is not None:
            raise ValidationFailed("Use either as_of or from/until, not both.", code="ledger.invalid_balance_query")
        until = until or dt.datetime.now(dt.UTC).date()
        if until < start:
            raise ValidationFailed("until must not precede from.", code="ledger.invalid_balance_query")
        ranges = await ledger.range_balances(conn, target_id, start, until)
        return BalancesOut(start=start, until=until, ranges=[
            RangeOut(currency=c, **r.as_dict()) for c, r in ranges.items()])
    reader = ledger.set_balances if is_set else ledger.account_balances
    return BalancesOut(as_of=as_of, balances=_balances(await reader(conn, target_id, as_of)))


@router.get("/ledger-accounts/{account_id}", response_model=AccountOut)
async def get_account(account_id: uuid.UUID, conn: ReadConn,
                      principal: Principal = require("accounting:ledger-account:read", id_param="account_id")):
    account = await ledger.get_account(conn, account_id)
    balances = await ledger.account_balances(conn, account_id)
    return AccountOut(**account, balance_control=account["min_zero"], balances=_balances(balances))


@router.get("/ledger-accounts/{account_id}/balances", response_model=BalancesOut)
async def get_account_balances(
    account_id: uuid.UUID, conn: ReadConn, as_of: AsOf = None, start: Start = None, until: Until = None,
    principal: Principal = require("accounting:ledger-account:read", id_param="account_id"),
):
    return await _balance_view(conn, account_id, as_of, start, until, is_set=False)


@router.get("/ledger-accounts/{account_id}/entries", response_model=Page[EntryOut])
async def get_account_entries(
    account_id: uuid.UUID, conn: ReadConn, page: PageParams = Depends(page_params),
    principal: Principal = require("accounting:ledger-account:read-history", id_param="account_id"),
):
    after = cursor_after(page, dt.datetime, uuid.UUID, int)
    rows = await ledger.entries(conn, account_id, first=page.first + 1, after=after)
    return page_from(rows, page, entry_key, lambda r: EntryOut(**r))


@router.get("/ledger-account-sets/{set_id}", response_model=AccountSetOut)
async def get_account_set(
    set_id: uuid.UUID, conn: ReadConn, as_of: AsOf = None,
    principal: Principal = require("accounting:ledger-account:read", id_param="set_id"),
):
    account_set = await ledger.get_account_set(conn, set_id)
    members = await ledger.list_members(conn, set_id)
    as_of = _utc(as_of)
    balances = await ledger.set_balances(conn, set_id, as_of)
    return AccountSetOut(**account_set, members=[MemberOut(**m) for m in members], as_of=as_of,
                         balances=_balances(balances))


@router.get("/ledger-account-sets/{set_id}/balances", response_model=BalancesOut)
async def get_account_set_balances(
    set_id: uuid.UUID, conn: ReadConn, as_of: AsOf = None, start: Start = None, until: Until = None,
    principal: Principal = require("accounting:ledger-account:read", id_param="set_id"),
):
    await ledger.get_account_set(conn, set_id)
    return await _balance_view(conn, set_id, as_of, start, until, is_set=True)


@router.get("/ledger-transactions/{tx_id}", response_model=TransactionOut)
async def get_transaction(
    tx_id: uuid.UUID, conn: ReadConn,
    principal: Principal = require("accounting:ledger-transaction:read", id_param="tx_id"),
):
    return TransactionOut(**await ledger.get_transaction(conn, tx_id))
