"""Disbursals (api-surface §8 CR9, CR10): initiate on an active facility, read, list, history."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from activities import event_store
from activities.credit.store import DISBURSAL_ENTITY, facility_row
from activities.credit.tables import disbursals
from activities.governance import processes
from api.authz import Principal, require
from api.capabilities import accepts
from api.credit.facilities import UNAVAILABLE
from api.credit.schemas import DirectionDep, DisbursalCreate, DisbursalOut, HistoryEntry
from api.deps import ReadConn, TemporalDep
from api.enums import ApiEnum
from api.governance import vote_capabilities
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, keyset_page, page_params
from api.workflow_calls import call
from domain.credit.disbursal import Disbursal
from domain.credit.errors import DisbursalNotFound, DisbursalOnInactiveFacility
from domain.credit.messages import DisbursalCommand
from domain.credit.status import DisbursalStatus
from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id

router = APIRouter(tags=["credit: disbursals"])


async def _row(conn, disbursal_id: str):
    row = (await conn.execute(select(disbursals).where(disbursals.c.id == disbursal_id))).first()
    if row is None:
        raise DisbursalNotFound(f"Disbursal {disbursal_id} does not exist.")
    return row


@router.post("/credit-facilities/{facility_id}/disbursals", status_code=201, response_model=DisbursalOut,
             responses=UNAVAILABLE, summary="Initiate a disbursal; starts its approval process")
async def initiate_disbursal(
    facility_id: uuid.UUID, body: DisbursalCreate, request: Request, response: Response, conn: ReadConn,
    temporal: TemporalDep,
    principal: Principal = require("credit:disbursal:initiate"), _idem: str | None = idempotent(),
) -> DisbursalOut:
    await facility_row(conn, str(facility_id))
    await conn.rollback()
    disbursal_id = str(new_entity_id(request))
    handle = temporal.get_workflow_handle(facility_workflow_id(str(facility_id)))
    await call(handle.execute_update(CreditFacilityWorkflow.initiate_disbursal, DisbursalCommand(
        disbursal_id=disbursal_id, amount_cents=body.amount, actor=principal.subject)),
        closed=DisbursalOnInactiveFacility("The facility is no longer open."))
    response.headers["Location"] = f"/api/v1/disbursals/{disbursal_id}"
    return DisbursalOut.from_row(await _row(conn, disbursal_id))


@router.get("/disbursals/by-public-id/{public_id}", response_model=DisbursalOut, summary="Get a disbursal by public id")
async def get_by_public_id(public_id: int, conn: ReadConn,
                           principal: Principal = require("credit:disbursal:read")) -> DisbursalOut:
    row = (await conn.execute(select(disbursals).where(disbursals.c.public_id == public_id))).first()
    if row is None:
        raise DisbursalNotFound(f"No disbursal with public id {public_id}.")
    return DisbursalOut.from_row(row)


@router.get("/disbursals/{disbursal_id}", response_model=DisbursalOut, summary="Get a disbursal")
async def get_disbursal(disbursal_id: uuid.UUID, conn: ReadConn, request: Request,
                        principal: Principal = require("credit:disbursal:read", id_param="disbursal_id")):
    out = DisbursalOut.from_row(await _row(conn, str(disbursal_id)))
    d = await event_store.load_entity(conn, Disbursal, str(disbursal_id))
    assert d is not None
    # the approval's vote, while the disbursal awaits it (its own predicate)
    state = await processes.load(conn, d.approval_process_id) if accepts(d.check_conclude) else None
    out.capabilities = vote_capabilities(request, principal, state, d.approval_process_id)
    return out


@router.get("/disbursals/{disbursal_id}/history", response_model=list[HistoryEntry], summary="Events of a disbursal")
async def disbursal_history(disbursal_id: uuid.UUID, conn: ReadConn,
                            principal: Principal = require("credit:disbursal:read", id_param="disbursal_id")):
    await _row(conn, str(disbursal_id))
    evs = await event_store.load(conn, DISBURSAL_ENTITY, str(disbursal_id))
    return [HistoryEntry(sequence=e.sequence, event_type=e.event_type, payload=e.payload, recorded_at=e.recorded_at)
            for e in evs]


@router.get("/disbursals", response_model=Page[DisbursalOut], summary="List disbursals")
async def list_disbursals(conn: ReadConn, page: PageParams = Depends(page_params), direction: str = DirectionDep,
                          status: ApiEnum[DisbursalStatus] | None = None, credit_facility_id: uuid.UUID | None = None,
                          principal: Principal = require("credit:disbursal:list")) -> Page[DisbursalOut]:
    return await disbursals_page(conn, page, direction, status, credit_facility_id and str(credit_facility_id))


async def disbursals_page(conn, page: PageParams, direction: str = "desc", status: str | None = None,
                          facility_id: str | None = None) -> Page[DisbursalOut]:
    """One page of disbursals, optionally of one status and one facility (also read by the customer portal)."""
    where = []
    if status:
        where.append(disbursals.c.status == str(status))
    if facility_id:
        where.append(disbursals.c.facility_id == facility_id)
    return await keyset_page(conn, select(disbursals).where(*where), disbursals, page, DisbursalOut.from_row,
                             direction=direction)
