"""Withdrawals (api-surface D9–D13): initiate (reserve + start the workflow), read, list, and the
operator's confirm / cancel (Updates on the workflow) and revert (after the workflow has ended)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.deposits import operations, store
from activities.governance import processes
from api.authz import Principal, require
from api.capabilities import Command, capabilities
from api.deposits.schemas import MoneyIn, WithdrawalOut
from api.deps import EngineDep, ReadConn, TemporalDep
from api.enums import ApiEnum, Direction
from api.governance import vote_capabilities
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, page_of, page_params
from api.workflow_calls import WorkflowNotRunning, call
from domain.deposits.errors import WithdrawalNotFound
from domain.deposits.model import RESERVED, Withdrawal, WithdrawalStatus
from workflows.withdrawal import WithdrawalWorkflow, start_withdrawal_workflow, withdrawal_workflow_id

router = APIRouter(tags=["deposits"])
T = store.withdrawals
_503 = {503: {"description": "Temporal unreachable; retry with the same Idempotency-Key / reference"}}


async def _row(conn, withdrawal_id: str):
    return await store.row_of(conn, T, withdrawal_id, WithdrawalNotFound)


@router.post("/withdrawals", status_code=201, response_model=WithdrawalOut,
             responses={200: {"model": WithdrawalOut, "description": "Same reference: the original withdrawal"},
                        **_503},
             summary="Initiate a withdrawal: reserve the funds, start approval")
async def initiate(body: MoneyIn, request: Request, response: Response, engine: EngineDep, client: TemporalDep,
                   principal: Principal = require("deposit:withdrawal:initiate"),
                   _idem: str | None = idempotent()) -> WithdrawalOut:
    withdrawal_id = str(new_entity_id(request))
    async with engine.begin() as conn:
        row, created = await operations.initiate_withdrawal(
            conn, withdrawal_id, str(body.deposit_account_id), body.amount, body.reference, principal.subject)
        holder = (await conn.execute(select(store.deposit_accounts.c.holder_id).where(
            store.deposit_accounts.c.id == str(row.deposit_account_id)))).scalar_one()
    if row.status in RESERVED:
        await start_withdrawal_workflow(client, request.app.state.settings.temporal_task_queue, row, str(holder))
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/withdrawals/{row.id}"
    return WithdrawalOut.from_row(row)


@router.get("/withdrawals", response_model=Page[WithdrawalOut], summary="List withdrawals")
async def list_withdrawals(conn: ReadConn, page: PageParams = Depends(page_params),
                           status: ApiEnum[WithdrawalStatus] | None = None, direction: Direction = "desc",
                           principal: Principal = require("deposit:withdrawal:list")) -> Page[WithdrawalOut]:
    return await page_of(conn, T, page, WithdrawalOut.from_row, {"status": status}, direction)


@router.get("/withdrawals/by-public-id/{public_id}", response_model=WithdrawalOut,
            summary="Find a withdrawal by public id")
async def withdrawal_by_public_id(public_id: str, conn: ReadConn,
                                  principal: Principal = require("deposit:withdrawal:read")) -> WithdrawalOut:
    row = (await conn.execute(select(T).where(T.c.public_id == public_id))).first()
    if row is None:
        raise WithdrawalNotFound(f"No withdrawal has public id {public_id!r}.")
    return WithdrawalOut.from_row(row)


@router.get("/withdrawals/{withdrawal_id}", response_model=WithdrawalOut, summary="Get a withdrawal")
async def get_withdrawal(withdrawal_id: uuid.UUID, conn: ReadConn, request: Request,
                         principal: Principal = require("deposit:withdrawal:read", id_param="withdrawal_id"),
                         ) -> WithdrawalOut:
    out = WithdrawalOut.from_row(await _row(conn, str(withdrawal_id)))
    wid = str(withdrawal_id)
    w = await store.load_withdrawal(conn, wid)
    out.capabilities = {**capabilities(request, principal, {
        "confirm": Command("deposit:withdrawal:confirm", wid, w.check_confirm),
        "cancel": Command("deposit:withdrawal:cancel", wid, w.check_cancel),
        "revert": Command("deposit:withdrawal:revert", wid, w.check_revert),
    }), **vote_capabilities(request, principal, await processes.load(conn, wid), wid)}
    return out


async def _command(engine: AsyncEngine, client: Client, task_queue: str, withdrawal_id: str,
                   check: Callable[[Withdrawal], bool], update, actor: str) -> WithdrawalOut:
    """Check the rule on the stored state (clear error naming it), then send the workflow's Update.

    The workflow is the only orchestrator: if it is not running (a crash between the reservation
    and its start), it is started from the stored state (idempotent) and the Update sent again.
    """
    async with engine.connect() as conn:
        w = await store.load_withdrawal(conn, withdrawal_id)
        holder = (await conn.execute(select(store.deposit_accounts.c.holder_id).where(
            store.deposit_accounts.c.id == w.account_id))).scalar_one() if w.account_id else None
        row = await _row(conn, withdrawal_id)
    if check(w):
        handle = client.get_workflow_handle(withdrawal_workflow_id(withdrawal_id))
        try:
            await call(handle.execute_update(update, actor))
        except WorkflowNotRunning:
            await start_withdrawal_workflow(client, task_queue, row, str(holder))
            await call(handle.execute_update(update, actor))
    async with engine.connect() as conn:
        return WithdrawalOut.from_row(await _row(conn, withdrawal_id))


@router.post("/withdrawals/{withdrawal_id}/confirm", response_model=WithdrawalOut, responses=_503,
             summary="Confirm an approved withdrawal: the funds leave the account")
async def confirm(withdrawal_id: uuid.UUID, request: Request, engine: EngineDep, client: TemporalDep,
                  principal: Principal = require("deposit:withdrawal:confirm", id_param="withdrawal_id"),
                  ) -> WithdrawalOut:
    return await _command(engine, client, request.app.state.settings.temporal_task_queue, str(withdrawal_id),
                          Withdrawal.check_confirm, WithdrawalWorkflow.confirm, principal.subject)


@router.post("/withdrawals/{withdrawal_id}/cancel", response_model=WithdrawalOut, responses=_503,
             summary="Cancel an unconfirmed withdrawal: the reservation is released")
async def cancel(withdrawal_id: uuid.UUID, request: Request, engine: EngineDep, client: TemporalDep,
                 principal: Principal = require("deposit:withdrawal:cancel", id_param="withdrawal_id"),
                 ) -> WithdrawalOut:
    return await _command(engine, client, request.app.state.settings.temporal_task_queue, str(withdrawal_id),
                          Withdrawal.check_cancel, WithdrawalWorkflow.cancel, principal.subject)


@router.post("/withdrawals/{withdrawal_id}/revert", response_model=WithdrawalOut,
             summary="Revert a confirmed withdrawal (a reversing posting; idempotent)")
async def revert(withdrawal_id: uuid.UUID, engine: EngineDep,
                 principal: Principal = require("deposit:withdrawal:revert", id_param="withdrawal_id"),
                 ) -> WithdrawalOut:
    async with engine.begin() as conn:
        await operations.revert_withdrawal(conn, str(withdrawal_id), principal.subject)
        return WithdrawalOut.from_row(await _row(conn, str(withdrawal_id)))
