"""Customers: create, read, list (filters: type, KYC status, activity, status), find by e-mail, KYC link;
lifecycle commands (api-surface §4 C7–C11): e-mail, Telegram handle, freeze, unfreeze, close."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy

from activities.customers import operations
from activities.customers.repository import customer_row, insert_customer, load_customer
from activities.customers.tables import customers
from api.authz import Principal, require
from api.capabilities import Command, capabilities, ok
from api.customers.schemas import CustomerCreate, CustomerOut, EmailUpdate, KycLinkOut, TelegramHandleUpdate
from api.deps import EngineDep, ReadConn, TemporalDep
from api.enums import ApiEnum, Direction
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, keyset_page, page_params
from domain.customers.errors import CustomerNotFound, KycProviderUnavailable
from domain.customers.messages import KycLinkRequest
from domain.customers.model import (
    Activity,
    ContactField,
    Customer,
    CustomerStatus,
    CustomerType,
    KycStatus,
    ensure_open,
)
from domain.errors import from_code
from workflows.customer_kyc import KycLinkWorkflow

router = APIRouter(tags=["customers"])


@router.post("/customers", status_code=201, response_model=CustomerOut,
             summary="Create a customer (KYC status PENDING_VERIFICATION)")
async def create_customer(body: CustomerCreate, request: Request, response: Response, engine: EngineDep,
                          principal: Principal = require("customer:customer:create"),
                          _idem: str | None = idempotent()) -> CustomerOut:
    customer = Customer.create(str(new_entity_id(request)), body.email, body.telegram_handle.lstrip("@"),
                               body.customer_type, principal.subject)
    async with engine.begin() as conn:
        await insert_customer(conn, customer)
        row = await customer_row(conn, customer.id)
    response.headers["Location"] = f"/api/v1/customers/{customer.id}"
    return CustomerOut.from_row(row)


@router.get("/customers", response_model=Page[CustomerOut], summary="List customers, newest first")
async def list_customers(
    conn: ReadConn,
    page: PageParams = Depends(page_params),
    customer_type: ApiEnum[CustomerType] | None = None,
    kyc_status: ApiEnum[KycStatus] | None = None,
    activity: ApiEnum[Activity] | None = None,
    status: ApiEnum[CustomerStatus] | None = None,
    direction: Direction = "desc",
    principal: Principal = require("customer:customer:list"),
) -> Page[CustomerOut]:
    query = select(customers)
    for column, value in ((customers.c.customer_type, customer_type), (customers.c.kyc_status, kyc_status),
                          (customers.c.activity, activity), (customers.c.status, status)):
        if value is not None:
            query = query.where(column == value.value)
    return await keyset_page(conn, query, customers, page, CustomerOut.from_row, direction=direction)


@router.get("/customers/by-email", response_model=CustomerOut, summary="Find a customer by e-mail")
async def customer_by_email(conn: ReadConn, email: Annotated[str, Query(max_length=320)],
                            principal: Principal = require("customer:customer:read")) -> CustomerOut:
    row = (await conn.execute(select(customers).where(func.lower(customers.c.email) == email.strip().lower()))
           ).first()
    if row is None:
        raise CustomerNotFound("No customer has this e-mail.")
    return CustomerOut.from_row(row)


@router.get("/customers/{customer_id}", response_model=CustomerOut, summary="Get a customer")
async def get_customer(customer_id: uuid.UUID, conn: ReadConn, request: Request,
                       principal: Principal = require("customer:customer:read", id_param="customer_id"),
                       ) -> CustomerOut:
    cid = str(customer_id)
    row, products = await operations.customer_with_open_products(conn, cid)
    out = CustomerOut.from_row(row)
    c = await load_customer(conn, cid)
    out.capabilities = capabilities(request, principal, {
        "start_kyc": Command("customer:customer:start-kyc", cid, ok(lambda: ensure_open(cid, c.status, "start KYC"))),
        "update_contact": Command("customer:party:update", cid, ok(lambda: ensure_open(cid, c.status, "update its contact"))),
        "freeze": Command("customer:customer:freeze", cid, c.check_freeze),
        "unfreeze": Command("customer:customer:unfreeze", cid, c.check_unfreeze),
        "close": Command("customer:customer:close", cid, lambda: c.check_close(products),
                         also=(("credit:credit-facility:list", None), ("deposit:deposit-account:list", None),
                               ("deposit:withdrawal:list", None))),
    })
    return out


@router.post("/customers/{customer_id}/kyc-link", response_model=KycLinkOut,
             summary="Create the SumSub applicant (once) and a verification link")
async def create_kyc_link(customer_id: uuid.UUID, request: Request, conn: ReadConn, client: TemporalDep,
                          principal: Principal = require("customer:customer:start-kyc", id_param="customer_id"),
                          ) -> KycLinkOut:
    ensure_open(str(customer_id), (await customer_row(conn, str(customer_id))).status, "start KYC")
    settings = request.app.state.settings
    try:
        url = await client.execute_workflow(
            KycLinkWorkflow.run, KycLinkRequest(str(customer_id), principal.subject),
            id=f"customer-kyc-link-{customer_id}", task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    except WorkflowFailureError as exc:
        cause = exc.cause
        while getattr(cause, "cause", None) is not None and not getattr(cause, "type", None):
            cause = cause.cause
        code = getattr(cause, "type", None) or ""
        if not code.startswith("customer."):
            code = KycProviderUnavailable.code
        raise from_code(code, str(getattr(cause, "message", cause))) from exc
    return KycLinkOut(url=url)


async def _command(engine, customer_id: uuid.UUID, operation, *args) -> CustomerOut:
    """Run one customer command in one transaction and answer with the customer as it now is."""
    async with engine.begin() as conn:
        await operation(conn, str(customer_id), *args)
        return CustomerOut.from_row(await customer_row(conn, str(customer_id)))


@router.put("/customers/{customer_id}/email", response_model=CustomerOut,
            summary="Change the e-mail (unique; unchanged → 200, nothing recorded)")
async def update_email(customer_id: uuid.UUID, body: EmailUpdate, engine: EngineDep,
                       principal: Principal = require("customer:party:update", id_param="customer_id"),
                       ) -> CustomerOut:
    return await _command(engine, customer_id, operations.update_contact, ContactField.EMAIL, body.email,
                          principal.subject)


@router.put("/customers/{customer_id}/telegram-handle", response_model=CustomerOut,
            summary="Change the Telegram handle (unique; unchanged → 200, nothing recorded)")
async def update_telegram_handle(customer_id: uuid.UUID, body: TelegramHandleUpdate, engine: EngineDep,
                                 principal: Principal = require("customer:party:update", id_param="customer_id"),
                                 ) -> CustomerOut:
    return await _command(engine, customer_id, operations.update_contact, ContactField.TELEGRAM_HANDLE,
                          body.telegram_handle.lstrip("@"), principal.subject)


@router.post("/customers/{customer_id}/freeze", response_model=CustomerOut,
             summary="Freeze the customer and, in the same transaction, its deposit accounts")
async def freeze(customer_id: uuid.UUID, engine: EngineDep,
                 principal: Principal = require("customer:customer:freeze", id_param="customer_id"),
                 ) -> CustomerOut:
    return await _command(engine, customer_id, operations.set_frozen, Customer.freeze, principal.subject)


@router.post("/customers/{customer_id}/unfreeze", response_model=CustomerOut,
             summary="Unfreeze the customer and its deposit accounts (unless a KYC RED still holds them)")
async def unfreeze(customer_id: uuid.UUID, engine: EngineDep,
                   principal: Principal = require("customer:customer:unfreeze", id_param="customer_id"),
                   ) -> CustomerOut:
    return await _command(engine, customer_id, operations.set_frozen, Customer.unfreeze, principal.subject)


@router.post("/customers/{customer_id}/close", response_model=CustomerOut,
             summary="Close (terminal) once no facility, proposal, deposit account or pending withdrawal is open")
async def close(customer_id: uuid.UUID, engine: EngineDep,
                principal: Principal = require("customer:customer:close", id_param="customer_id"),
                _facilities: Principal = require("credit:credit-facility:list"),
                _accounts: Principal = require("deposit:deposit-account:list"),
                _withdrawals: Principal = require("deposit:withdrawal:list"),
                ) -> CustomerOut:
    return await _command(engine, customer_id, operations.close, principal.subject)
