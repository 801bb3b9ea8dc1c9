"""Deposit accounts (api-surface D1–D5, §13): open, read, list, freeze, unfreeze, close, balance, history."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from activities import event_store, ledger
from activities.deposits import accounts as ops
from activities.deposits import balances, store
from api.authz import Principal, require
from api.capabilities import Command, capabilities, ok
from api.deposits.schemas import (
    BalanceOut,
    DepositAccountCreate,
    DepositAccountOut,
    DepositOut,
    HistoryEntry,
    WithdrawalOut,
)
from api.deps import EngineDep, ReadConn
from api.enums import ApiEnum, Direction
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, cursor_after, entry_key, page_from, page_of, page_params
from domain.customers.model import Activity
from domain.deposits.errors import DepositAccountNotFound
from domain.deposits.model import AccountStatus, DepositAccount, DepositStatus, WithdrawalStatus

router = APIRouter(tags=["deposits"])
T = store.deposit_accounts


async def _out(conn, account_id: str) -> DepositAccountOut:
    return DepositAccountOut.from_row(await store.row_of(conn, T, account_id, DepositAccountNotFound))


@router.post("/deposit-accounts", status_code=201, response_model=DepositAccountOut,
             summary="Open the customer's deposit account (verified customer; one per customer)")
async def open_account(body: DepositAccountCreate, request: Request, response: Response, engine: EngineDep,
                       principal: Principal = require("deposit:deposit-account:create"),
                       _idem: str | None = idempotent()) -> DepositAccountOut:
    account_id = str(new_entity_id(request))
    async with engine.begin() as conn:
        await ops.open_account(conn, account_id, str(body.customer_id), principal.subject,
                               kyc_required=request.app.state.settings.kyc_required)
        out = await _out(conn, account_id)
    response.headers["Location"] = f"/api/v1/deposit-accounts/{account_id}"
    return out


@router.get("/deposit-accounts", response_model=Page[DepositAccountOut], summary="List deposit accounts")
async def list_accounts(conn: ReadConn, page: PageParams = Depends(page_params), status: ApiEnum[AccountStatus] | None = None,
                        activity: ApiEnum[Activity] | None = None, direction: Direction = "desc",
                        principal: Principal = require("deposit:deposit-account:list")) -> Page[DepositAccountOut]:
    return await page_of(conn, T, page, DepositAccountOut.from_row, {"status": status, "activity": activity},
                         direction)


@router.get("/deposit-accounts/by-public-id/{public_id}", response_model=DepositAccountOut,
            summary="Find a deposit account by public id")
async def account_by_public_id(public_id: str, conn: ReadConn,
                               principal: Principal = require("deposit:deposit-account:read")) -> DepositAccountOut:
    row = (await conn.execute(select(T).where(T.c.public_id == public_id))).first()
    if row is None:
        raise DepositAccountNotFound(f"No deposit account has public id {public_id!r}.")
    return DepositAccountOut.from_row(row)


@router.get("/deposit-accounts/{account_id}", response_model=DepositAccountOut, summary="Get a deposit account")
async def get_account(account_id: uuid.UUID, conn: ReadConn, request: Request,
                      principal: Principal = require("deposit:deposit-account:read", id_param="account_id"),
                      ) -> DepositAccountOut:
    out = await _out(conn, str(account_id))
    a, aid = await _account(conn, account_id), str(account_id)
    main = await ledger.balance(conn, account_id, "USD")
    out.capabilities = capabilities(request, principal, {
        "record_deposit": Command("deposit:deposit:create", None, ok(lambda: a.ensure_active("deposit"))),
        "initiate_withdrawal": Command("deposit:withdrawal:initiate", None, ok(lambda: a.ensure_active("withdraw"))),
        "freeze": Command("deposit:deposit-account:freeze", aid, a.check_freeze),
        "unfreeze": Command("deposit:deposit-account:unfreeze", aid, a.check_unfreeze),
        "close": Command("deposit:deposit-account:close", aid, lambda: a.check_close((main.settled, main.pending))),
    })
    return out


@router.get("/customers/{customer_id}/deposit-account", response_model=DepositAccountOut,
            summary="The customer's deposit account")
async def customer_account(customer_id: uuid.UUID, conn: ReadConn,
                           principal: Principal = require("deposit:deposit-account:list")) -> DepositAccountOut:
    row = await account_of_holder(conn, str(customer_id))
    if row is None:
        raise DepositAccountNotFound(f"Customer {customer_id} has no deposit account.")
    return DepositAccountOut.from_row(row)


async def account_of_holder(conn, customer_id: str):
    """The customer's deposit account row, or None (also read by the customer portal)."""
    return (await conn.execute(select(T).where(T.c.holder_id == customer_id))).first()


async def _status_change(engine, fn, account_id: uuid.UUID, principal: Principal) -> DepositAccountOut:
    async with engine.begin() as conn:
        await fn(conn, str(account_id), principal.subject)
        return await _out(conn, str(account_id))


@router.post("/deposit-accounts/{account_id}/freeze", response_model=DepositAccountOut,
             summary="Freeze: move the settled balance to the frozen twin and lock the account")
async def freeze(account_id: uuid.UUID, engine: EngineDep,
                 principal: Principal = require("deposit:deposit-account:freeze", id_param="account_id"),
                 ) -> DepositAccountOut:
    return await _status_change(engine, ops.freeze, account_id, principal)


@router.post("/deposit-accounts/{account_id}/unfreeze", response_model=DepositAccountOut,
             summary="Unfreeze: unlock and move the frozen balance back")
async def unfreeze(account_id: uuid.UUID, engine: EngineDep,
                   principal: Principal = require("deposit:deposit-account:unfreeze", id_param="account_id"),
                   ) -> DepositAccountOut:
    return await _status_change(engine, ops.unfreeze, account_id, principal)


@router.post("/deposit-accounts/{account_id}/close", response_model=DepositAccountOut,
             summary="Close (permanent; settled and pending balance must be zero)")
async def close(account_id: uuid.UUID, engine: EngineDep,
                principal: Principal = require("deposit:deposit-account:close", id_param="account_id"),
                ) -> DepositAccountOut:
    return await _status_change(engine, ops.close, account_id, principal)


async def _account(conn, account_id: uuid.UUID) -> DepositAccount:
    account = await event_store.load_entity(conn, DepositAccount, str(account_id))
    if account is None:
        raise DepositAccountNotFound(f"Deposit account {account_id} does not exist.")
    return account


@router.get("/deposit-accounts/{account_id}/balance", response_model=BalanceOut,
            summary="Settled, pending, available and frozen balance (USD cents)")
async def balance(account_id: uuid.UUID, conn: ReadConn,
                  principal: Principal = require("deposit:deposit-account:read-balance", id_param="account_id"),
                  ) -> BalanceOut:
    return BalanceOut(**await balances.account_balance(conn, await _account(conn, account_id)))


@router.get("/deposit-accounts/{account_id}/history", response_model=Page[HistoryEntry],
            summary="Ledger entries of the account, newest first")
async def history(account_id: uuid.UUID, conn: ReadConn, page: PageParams = Depends(page_params),
                  principal: Principal = require("deposit:deposit-account:read", id_param="account_id"),
                  ) -> Page[HistoryEntry]:
    await _account(conn, account_id)
    return await history_page(conn, str(account_id), page)


async def history_page(conn, account_id: str, page: PageParams) -> Page[HistoryEntry]:
    """One page of the account's ledger entries, newest first (also read by the customer portal)."""
    rows = await balances.history(conn, account_id, page.first + 1, cursor_after(page, datetime, uuid.UUID, int))
    return page_from(rows, page, entry_key, lambda r: HistoryEntry(transaction_id=str(r["transaction_id"]), sequence=r["sequence"],
                          template_code=r["template_code"], entry_type=r["entry_type"], direction=r["direction"],
                          layer=r["layer"], amount=int(r["units"]), currency=r["currency"],
                          effective=r["effective"], recorded_at=r["recorded_at"]))


@router.get("/deposit-accounts/{account_id}/deposits", response_model=Page[DepositOut],
            summary="Deposits of the account")
async def account_deposits(account_id: uuid.UUID, conn: ReadConn, page: PageParams = Depends(page_params),
                           status: ApiEnum[DepositStatus] | None = None,
                           principal: Principal = require("deposit:deposit:list")) -> Page[DepositOut]:
    return await page_of(conn, store.deposits, page, DepositOut.from_row,
                         {"deposit_account_id": account_id, "status": status})


@router.get("/deposit-accounts/{account_id}/withdrawals", response_model=Page[WithdrawalOut],
            summary="Withdrawals of the account")
async def account_withdrawals(account_id: uuid.UUID, conn: ReadConn, page: PageParams = Depends(page_params),
                              status: ApiEnum[WithdrawalStatus] | None = None,
                              principal: Principal = require("deposit:withdrawal:list")) -> Page[WithdrawalOut]:
    return await page_of(conn, store.withdrawals, page, WithdrawalOut.from_row,
                         {"deposit_account_id": account_id, "status": status})
