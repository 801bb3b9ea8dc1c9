"""A facility's interest and obligations (api-surface §8, §13; credit.md §6, §7, §13):
``/credit-facilities/{id}/obligations`` and ``/accrual-cycles`` (cursor pages), ``/repayment-plan``.

Reads of the read model only (written by the end-of-day steps, ``activities/credit/end_of_day.py``),
under the facility's read permission, like its balance and history.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from activities import ledger
from activities.credit import lifecycle_store as ls
from activities.credit.store import facility_row
from activities.credit.tables import accrual_cycles, interest_accruals, obligations
from activities.time.clock import business_now
from api.authz import Principal, require
from api.credit.schemas import AccrualCycleOut, DirectionDep, ObligationOut, RepaymentPlanEntryOut
from api.deps import ReadConn
from api.enums import ApiEnum
from api.pagination import Page, PageParams, cursor_after, keyset_page, page_from, page_params
from domain.credit.balance import PRINCIPAL
from domain.credit.repayment_plan import RepaymentEntry, proposed_plan, repayment_plan
from domain.credit.status import AccrualCycleStatus, ObligationStatus, ObligationType, Stage
from domain.credit.terms import TermValues

router = APIRouter(tags=["credit: interest and obligations"])
READ = "credit:credit-facility:read"


@router.get("/credit-facilities/{facility_id}/obligations", response_model=Page[ObligationOut],
            summary="The facility's obligations (principal and interest) with status, dates and outstanding")
async def list_obligations(facility_id: uuid.UUID, conn: ReadConn, page: PageParams = Depends(page_params),
                           direction: str = DirectionDep, status: ApiEnum[ObligationStatus] | None = None,
                           obligation_type: ApiEnum[ObligationType] | None = None,
                           principal: Principal = require(READ, id_param="facility_id")) -> Page[ObligationOut]:
    await facility_row(conn, str(facility_id))
    o = obligations
    q = select(o).where(o.c.facility_id == str(facility_id))
    if status:
        q = q.where(o.c.status == str(status))
    if obligation_type:
        q = q.where(o.c.obligation_type == str(obligation_type))
    return await keyset_page(conn, q, o, page, ObligationOut.from_row, direction=direction)


@router.get("/credit-facilities/{facility_id}/accrual-cycles", response_model=Page[AccrualCycleOut],
            summary="The facility's interest accrual cycles (by index) with their accruals")
async def list_accrual_cycles(facility_id: uuid.UUID, conn: ReadConn, page: PageParams = Depends(page_params),
                              direction: str = DirectionDep,
                              principal: Principal = require(READ, id_param="facility_id")) -> Page[AccrualCycleOut]:
    await facility_row(conn, str(facility_id))
    c, a = accrual_cycles, interest_accruals
    q = select(c).where(c.c.facility_id == str(facility_id))
    after = cursor_after(page, int)
    if after:
        q = q.where(c.c.idx < after[0] if direction == "desc" else c.c.idx > after[0])
    rows = (await conn.execute(q.order_by(c.c.idx.desc() if direction == "desc" else c.c.idx.asc())
                               .limit(page.first + 1))).all()
    by_cycle = defaultdict(list)
    ids = [r.id for r in rows[:page.first]]
    if ids:
        for r in await conn.execute(select(a).where(a.c.cycle_id.in_(ids)).order_by(a.c.cycle_id, a.c.n)):
            by_cycle[r.cycle_id].append(r)
    return page_from(rows, page, lambda r: (r.idx,), lambda r: AccrualCycleOut.from_row(r, by_cycle[r.id]))


def _entry(e: RepaymentEntry) -> RepaymentPlanEntryOut:
    return RepaymentPlanEntryOut(obligation_type=e.obligation_type, status=e.status, initial=e.initial_cents,
                                 outstanding=e.outstanding_cents, paid=e.paid_cents, effective=e.effective, due_date=e.dates.due_date,
                                 overdue_date=e.dates.overdue_date, defaulted_date=e.dates.defaulted_date,
                                 obligation_id=e.obligation_id, accrual_cycle_idx=e.cycle_idx)


@router.get("/credit-facilities/{facility_id}/repayment-plan", response_model=list[RepaymentPlanEntryOut],
            summary="Obligations as they stand, then the interest still to come (UPCOMING, on today's principal)")
async def repayment(facility_id: uuid.UUID, conn: ReadConn, request: Request,
                    principal: Principal = require(READ, id_param="facility_id")) -> list[RepaymentPlanEntryOut]:
    return await repayment_plan_of(conn, request.app.state.settings, await facility_row(conn, str(facility_id)))


async def repayment_plan_of(conn, settings, row) -> list[RepaymentPlanEntryOut]:
    """The repayment plan of a facility row (also read by the customer portal)."""
    facility_id = str(row.id)
    terms = TermValues.model_validate(row.terms)
    if row.stage in (Stage.PROPOSAL.value, Stage.PENDING.value):  # the schedule as if activated today, fully drawn
        _, today = await business_now(conn, settings)  # the business date, simulated or not
        return [_entry(e) for e in proposed_plan(facility_id, terms, row.amount_cents, today)]
    if row.stage != Stage.ACTIVE.value:
        return []
    obs = [ls.obligation_from_row(r) for r in await conn.execute(
        select(obligations).where(obligations.c.facility_id == facility_id))]
    c = accrual_cycles
    open_row = (await conn.execute(select(c).where(c.c.facility_id == facility_id,
                                                   c.c.status != AccrualCycleStatus.POSTED.value))).first()
    drawn = sum([(await ledger.balance(conn, uuid.UUID(row.accounts[r]), "USD")).settled
                 for r in PRINCIPAL[:3] if r in row.accounts])
    cycle_ids = [o.cycle_id for o in obs if o.cycle_id]
    idx = {str(r.id): r.idx for r in await conn.execute(select(c.c.id, c.c.idx).where(c.c.id.in_(cycle_ids)))} \
        if cycle_ids else {}
    plan = repayment_plan(obs, ls.cycle_from_row(open_row) if open_row else None, terms, row.maturity_date, drawn,
                          idx)
    return [_entry(e) for e in plan]
