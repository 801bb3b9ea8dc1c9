"""Deposits (api-surface D6–D8): record (posted at once, idempotent by reference), read, list, revert."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from activities.deposits import operations, store
from api.authz import Principal, require
from api.deposits.schemas import DepositOut, MoneyIn
from api.deps import EngineDep, ReadConn
from api.enums import ApiEnum, Direction
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, page_of, page_params
from domain.deposits.errors import DepositNotFound
from domain.deposits.model import DepositStatus

router = APIRouter(tags=["deposits"])
T = store.deposits


@router.post("/deposits", status_code=201, response_model=DepositOut,
             responses={200: {"model": DepositOut, "description": "Same reference: the original deposit"}},
             summary="Record a deposit (posted to the ledger at once)")
async def record_deposit(body: MoneyIn, request: Request, response: Response, engine: EngineDep,
                         principal: Principal = require("deposit:deposit:create"),
                         _idem: str | None = idempotent()) -> DepositOut:
    deposit_id = str(new_entity_id(request))
    async with engine.begin() as conn:
        row, created = await operations.record_deposit(conn, deposit_id, str(body.deposit_account_id), body.amount,
                                                       body.reference, principal.subject)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/deposits/{row.id}"
    return DepositOut.from_row(row)


@router.get("/deposits", response_model=Page[DepositOut], summary="List deposits")
async def list_deposits(conn: ReadConn, page: PageParams = Depends(page_params), status: ApiEnum[DepositStatus] | None = None,
                        direction: Direction = "desc",
                        principal: Principal = require("deposit:deposit:list")) -> Page[DepositOut]:
    return await page_of(conn, T, page, DepositOut.from_row, {"status": status}, direction)


@router.get("/deposits/by-public-id/{public_id}", response_model=DepositOut, summary="Find a deposit by public id")
async def deposit_by_public_id(public_id: str, conn: ReadConn,
                               principal: Principal = require("deposit:deposit:read")) -> DepositOut:
    row = (await conn.execute(select(T).where(T.c.public_id == public_id))).first()
    if row is None:
        raise DepositNotFound(f"No deposit has public id {public_id!r}.")
    return DepositOut.from_row(row)


@router.get("/deposits/{deposit_id}", response_model=DepositOut, summary="Get a deposit")
async def get_deposit(deposit_id: uuid.UUID, conn: ReadConn,
                      principal: Principal = require("deposit:deposit:read", id_param="deposit_id")) -> DepositOut:
    return DepositOut.from_row(await store.row_of(conn, T, str(deposit_id), DepositNotFound))


@router.post("/deposits/{deposit_id}/revert", response_model=DepositOut,
             summary="Revert a deposit (a reversing posting; idempotent)")
async def revert_deposit(deposit_id: uuid.UUID, engine: EngineDep,
                         principal: Principal = require("deposit:deposit:revert", id_param="deposit_id"),
                         ) -> DepositOut:
    async with engine.begin() as conn:
        await operations.revert_deposit(conn, str(deposit_id), principal.subject)
        return DepositOut.from_row(await store.row_of(conn, T, str(deposit_id), DepositNotFound))
