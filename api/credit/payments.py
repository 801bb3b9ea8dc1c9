"""Payments and completion (api-surface §8 CR11–CR13; credit.md §8, §10).

``POST /credit-facilities/{id}/payments`` [IK] sends the facility workflow the ``record_payment``
Update (one step: the payment, its allocations, every posting) and answers with the payment and its
allocations. The payment's id comes from the Idempotency-Key (``new_entity_id``), so a repeated
request finds the stored payment and posts nothing (also after the facility has closed). A body
with ``effective`` needs the stronger ``credit:obligation:record-payment-allocation-with-date``.
``POST /credit-facilities/{id}/complete`` sends ``complete``; a closed facility answers as it is.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from activities.credit import payment_store
from activities.credit.store import facility_row
from activities.credit.tables import payments
from api.authz import Principal, permission_object, require
from api.credit.facilities import UNAVAILABLE
from api.credit.schemas import CreditFacilityOut, DirectionDep, PaymentCreate, PaymentOut
from api.deps import ReadConn, TemporalDep
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, keyset_page, page_params
from api.workflow_calls import WorkflowNotRunning, call
from domain.credit.errors import (
    CompletionNotAllowed,
    PaymentNotFound,
    PaymentOnClosedFacility,
    PaymentOnInactiveFacility,
)
from domain.credit.messages import CompleteCommand, PaymentCommand
from domain.credit.status import FacilityStatus
from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id

router = APIRouter(tags=["credit: payments"])
RECORD = "credit:obligation:record-payment-allocation"
RECORD_WITH_DATE = "credit:obligation:record-payment-allocation-with-date"
_REFUSALS = {409: {"description": "Facility closed (credit.payment_on_closed_facility) or not active; deposit "
                                  "account frozen or closed (credit.deposit_account_not_active)"},
             422: {"description": "Above the outstanding (credit.payment_amount_greater_than_outstanding_obligations), "
                                  "above the deposit balance (credit.insufficient_deposit_balance), effective before "
                                  "activation or after the business date"}}


async def _payment(conn, payment_id: str) -> PaymentOut | None:
    row = await payment_store.payment_row(conn, payment_id)
    if row is None:
        return None
    return PaymentOut.from_rows(row, (await payment_store.allocation_rows(conn, [payment_id]))[payment_id])


@router.post("/credit-facilities/{facility_id}/payments", status_code=201, response_model=PaymentOut,
             responses={**_REFUSALS, **UNAVAILABLE},
             summary="Record a payment from the customer's deposit account; answers with its allocations")
async def record_payment(
    facility_id: uuid.UUID, body: PaymentCreate, request: Request, response: Response, conn: ReadConn,
    temporal: TemporalDep, principal: Principal = require(RECORD), _idem: str | None = idempotent(),
) -> PaymentOut:
    if body.effective is not None:  # CR12: a back-dated payment needs its own permission
        await request.app.state.authz.check(request, RECORD_WITH_DATE, permission_object(RECORD_WITH_DATE))
    await facility_row(conn, str(facility_id))
    payment_id = str(new_entity_id(request))
    response.headers["Location"] = f"/api/v1/credit-facilities/{facility_id}/payments/{payment_id}"
    found = await _payment(conn, payment_id)
    if found is not None:  # a repeated request (its stored response lost, or the facility closed since)
        return found
    await conn.rollback()  # do not hold a snapshot while the workflow writes
    handle = temporal.get_workflow_handle(facility_workflow_id(str(facility_id)))
    try:
        await call(handle.execute_update(CreditFacilityWorkflow.record_payment, PaymentCommand(
            payment_id=payment_id, amount_cents=body.amount, effective=body.effective, actor=principal.subject)))
    except WorkflowNotRunning:  # its run has ended: closed, or a proposal that never became a facility
        row = await facility_row(conn, str(facility_id))
        if row.status == FacilityStatus.CLOSED.value:
            raise PaymentOnClosedFacility(f"Facility {facility_id} is closed; it takes no payments.") from None
        raise PaymentOnInactiveFacility(f"Facility {facility_id} is {row.proposal_status}.",
                                        facility_status=row.proposal_status) from None
    out = await _payment(conn, payment_id)
    assert out is not None
    return out


@router.get("/credit-facilities/{facility_id}/payments", response_model=Page[PaymentOut],
            summary="The facility's payments with their allocations")
async def list_payments(facility_id: uuid.UUID, conn: ReadConn, page: PageParams = Depends(page_params),
                        direction: str = DirectionDep,
                        principal: Principal = require("credit:credit-facility:read", id_param="facility_id"),
                        ) -> Page[PaymentOut]:
    await facility_row(conn, str(facility_id))
    return await payments_page(conn, str(facility_id), page, direction)


async def payments_page(conn, facility_id: str, page: PageParams, direction: str = "desc") -> Page[PaymentOut]:
    """One page of a facility's payments with their allocations (also read by the customer portal)."""
    rows = await keyset_page(conn, select(payments).where(payments.c.facility_id == facility_id), payments,
                             page, lambda r: r, direction=direction)
    allocations = await payment_store.allocation_rows(conn, [str(r.id) for r in rows.items])
    return Page(items=[PaymentOut.from_rows(r, allocations[str(r.id)]) for r in rows.items],
                next_cursor=rows.next_cursor)


@router.get("/credit-facilities/{facility_id}/payments/{payment_id}", response_model=PaymentOut,
            summary="One payment with its allocations")
async def get_payment(facility_id: uuid.UUID, payment_id: uuid.UUID, conn: ReadConn,
                      principal: Principal = require("credit:credit-facility:read", id_param="facility_id")):
    found = await _payment(conn, str(payment_id))
    if found is None or found.credit_facility_id != str(facility_id):
        raise PaymentNotFound(f"No payment {payment_id} on facility {facility_id}.")
    return found


@router.post("/credit-facilities/{facility_id}/complete", response_model=CreditFacilityOut,
             responses={409: {"description": "Something is outstanding (credit.outstanding_amount, named in the "
                                             "detail), or the facility is not active"}, **UNAVAILABLE},
             summary="Complete a fully repaid facility: release its collateral and close it")
async def complete(
    facility_id: uuid.UUID, conn: ReadConn, temporal: TemporalDep,
    principal: Principal = require("credit:credit-facility:complete", id_param="facility_id"),
) -> CreditFacilityOut:
    row = await facility_row(conn, str(facility_id))
    if row.status != FacilityStatus.CLOSED.value:
        await conn.rollback()
        handle = temporal.get_workflow_handle(facility_workflow_id(str(facility_id)))
        try:
            await call(handle.execute_update(CreditFacilityWorkflow.complete, CompleteCommand(
                actor=principal.subject)))
        except WorkflowNotRunning:
            row = await facility_row(conn, str(facility_id))
            if row.status != FacilityStatus.CLOSED.value:
                raise CompletionNotAllowed(f"Facility {facility_id} is {row.status or row.stage}.") from None
    return CreditFacilityOut.from_row(await facility_row(conn, str(facility_id)))
