"""``GET /portal/me``, ``GET /portal/credit-facilities/{id}``, ``GET /portal/price`` (api-surface §15).

Reads only, through the operator API's read functions (never a second copy of a query), scoped to
the caller: a facility of another customer is 404 ``common.not_found``, like one that does not exist.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy import select
from sse_starlette import EventSourceResponse

from activities import event_store
from activities.credit.store import facility_balance, find_facility_row
from activities.credit.tables import facilities
from activities.deposits import balances, store
from api.credit.disbursals import disbursals_page
from api.credit.facilities import latest_price_cents
from api.credit.lifecycle import repayment_plan_of
from api.credit.payments import payments_page
from api.credit.schemas import CreditFacilityOut
from api.customers.schemas import CustomerOut
from api.deposits.accounts import account_of_holder, history_page
from api.deposits.schemas import BalanceOut, DepositAccountOut, DepositOut, WithdrawalOut
from api.pagination import PageParams, page_of
from api.portal.auth import PortalCaller, portal_read
from api.portal.schemas import RECENT, PortalDepositAccount, PortalFacility, PortalMe
from api.price import PriceOut, current_price
from api.streams import ENTITY_RESPONSES, LastEventId, facility_stream_response, parse_last_event_id
from domain.deposits.model import DepositAccount

router = APIRouter(prefix="/portal", tags=["portal"], responses={
    401: {"description": "No valid customer-realm token, or it names no customer (`auth.unauthenticated`)"},
    403: {"description": "An operator token (`auth.forbidden`, audited)"}})
NOT_FOUND = {404: {"description": "Not one of the caller's (`common.not_found`, also for an id that does not exist)"}}
RECENT_PAGE = PageParams(first=RECENT)


async def _deposit_account(conn, customer_id: str) -> PortalDepositAccount | None:
    row = await account_of_holder(conn, customer_id)
    if row is None:
        return None
    account = await event_store.load_entity(conn, DepositAccount, str(row.id))
    assert account is not None
    filters = {"deposit_account_id": row.id}
    return PortalDepositAccount(
        account=DepositAccountOut.from_row(row),
        balance=BalanceOut(**await balances.account_balance(conn, account)),
        deposits=(await page_of(conn, store.deposits, RECENT_PAGE, DepositOut.from_row, filters)).items,
        withdrawals=(await page_of(conn, store.withdrawals, RECENT_PAGE, WithdrawalOut.from_row, filters)).items,
        history=(await history_page(conn, str(row.id), RECENT_PAGE)).items)


async def _facility(conn, settings, row, price: int | None) -> PortalFacility:
    return PortalFacility(
        facility=CreditFacilityOut.from_row(row, price),
        balance=await facility_balance(conn, row.accounts) if row.accounts else None,
        disbursals=(await disbursals_page(conn, RECENT_PAGE, facility_id=str(row.id))).items,
        repayment_plan=await repayment_plan_of(conn, settings, row),
        payments=(await payments_page(conn, str(row.id), RECENT_PAGE)).items)


@router.get("/me", response_model=PortalMe,
            summary="The caller's profile, KYC, deposit account (balance, deposits, withdrawals, history) and loans")
async def me(caller: PortalCaller = portal_read("me")) -> PortalMe:
    await caller.audit(caller.customer_id, True)
    conn, settings = caller.conn, caller.request.app.state.settings
    price = await latest_price_cents(conn)
    rows = (await conn.execute(select(facilities).where(facilities.c.customer_id == caller.customer_id)
                               .order_by(facilities.c.created_at.desc(), facilities.c.id.desc()))).all()
    return PortalMe(customer=CustomerOut.from_row(caller.customer),
                    deposit_account=await _deposit_account(conn, caller.customer_id),
                    credit_facilities=[await _facility(conn, settings, r, price) for r in rows])


@router.get("/credit-facilities/{facility_id}", response_model=PortalFacility, responses=NOT_FOUND,
            summary="One of the caller's loans: terms, balance, CVL, disbursals, repayment plan and history")
async def credit_facility(facility_id: uuid.UUID,
                          caller: PortalCaller = portal_read("credit-facility")) -> PortalFacility:
    row = await find_facility_row(caller.conn, str(facility_id))
    if row is None or str(row.customer_id) != caller.customer_id:
        raise await caller.not_yours(str(facility_id), "credit facility")
    await caller.audit(str(facility_id), True)
    conn = caller.conn
    return await _facility(conn, caller.request.app.state.settings, row, await latest_price_cents(conn))


@router.get("/price", response_model=PriceOut, responses={503: {"description": "No price yet (`price.no_price`)"}},
            summary="The current BTC price")
async def price(caller: PortalCaller = portal_read("price")) -> PriceOut:
    await caller.audit("*", True)
    return await current_price(caller.conn, caller.request.app.state.settings.price_max_age_seconds)


@router.get("/credit-facilities/{facility_id}/stream", response_class=EventSourceResponse,
            responses={**ENTITY_RESPONSES, **NOT_FOUND},
            summary="Live updates of one of the caller's loans (SSE, as the operator facility stream)")
async def credit_facility_stream(facility_id: uuid.UUID, last_event_id: LastEventId = None,
                                 caller: PortalCaller = portal_read("credit-facility")) -> EventSourceResponse:
    after = parse_last_event_id(last_event_id)
    row = await find_facility_row(caller.conn, str(facility_id))
    if row is None or str(row.customer_id) != caller.customer_id:
        raise await caller.not_yours(str(facility_id), "credit facility")
    await caller.audit(str(facility_id), True)
    # back to the pool now: the stream reads through the hub and its own short connections, and a
    # yield dependency would otherwise hold this one for as long as the stream stays open
    await caller.conn.close()
    return facility_stream_response(caller.request, str(facility_id), after)
