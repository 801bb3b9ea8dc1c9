"""Dashboard (api-surface §12 DB1) and the portfolio figures the ``/portfolio`` page draws.

Both need ``dashboard:dashboard:read`` (the ``dashboard_viewer`` set: every predefined role). Each
answer is a few aggregate statements over the credit read models (``activities/dashboard/store.py``),
cheap enough to poll.
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.dashboard import store
from activities.time import clock
from api.authz import Principal, require
from api.deps import ReadConn
from api.enums import ApiEnum, api_enum
from domain.credit.status import ObligationStatus
from domain.dashboard.portfolio import AGING_BUCKETS, CvlBand
from ground.settings import Settings

router = APIRouter(tags=["dashboard"])
AgingBucketName = api_enum(*[b.name for b in AGING_BUCKETS], title="AgingBucket")


class OutstandingByStatus(BaseModel):
    status: ApiEnum[ObligationStatus]
    outstanding: int = Field(description="USD cents still owed on obligations in this status")
    obligations: int = Field(description="How many obligations with this status")


class DashboardOut(BaseModel):
    as_of: datetime = Field(description="The database instant the figures were read at (one snapshot)")
    pending_facilities: int = Field(description="Approved facilities waiting for collateral")
    active_facilities: int = Field(description="Activated facilities not closed (ACTIVE or MATURED)")
    total_disbursed: int = Field(description="USD cents disbursed by every activated facility, closed ones included")
    total_collateral: int = Field(description="Satoshis held as collateral by pending and open facilities")
    total_outstanding: int = Field(description="USD cents outstanding, the four statuses below summed (defaulted "
                                               "included, unlike a facility's total_outstanding)")
    outstanding_by_status: list[OutstandingByStatus]


class CvlBandOut(BaseModel):
    band: ApiEnum[CvlBand]
    facilities: int
    outstanding: int = Field(description="USD cents outstanding on the facilities in this band")
    collateral: int = Field(description="Satoshis of collateral of the facilities in this band")


class AgingBucketOut(BaseModel):
    bucket: AgingBucketName
    min_days_past_due: int
    max_days_past_due: int | None = Field(description="null: no upper end")
    obligations: int
    outstanding: int = Field(description="USD cents")


class PortfolioOut(BaseModel):
    as_of: datetime
    aging_date: date = Field(description="Days past due are counted to this date: the last completed end of "
                                         "day (the date the obligation statuses hold for), else the business date")
    price: int | None = Field(description="USD cents per BTC the CVLs are computed at; null: no price yet "
                                          "(then every band is empty)")
    open_facilities: int
    total_outstanding: int
    outstanding_by_status: list[OutstandingByStatus]
    cvl_bands: list[CvlBandOut] = Field(description="Open facilities by where their CVL sits against their own "
                                                    "liquidation, margin-call and initial CVL, lowest band first")
    aging: list[AgingBucketOut] = Field(description="Obligations with something outstanding by days past due")


def _statuses(raw: dict) -> list[OutstandingByStatus]:
    return [OutstandingByStatus(status=s, outstanding=v["cents"], obligations=v["count"]) for s, v in raw.items()]


async def dashboard_of(conn: AsyncConnection) -> DashboardOut:
    d = await store.dashboard(conn)
    return DashboardOut(as_of=d["as_of"], pending_facilities=d["pending_facilities"],
                        active_facilities=d["active_facilities"], total_disbursed=d["total_disbursed_cents"],
                        total_collateral=d["total_collateral_sats"],
                        total_outstanding=sum(v["cents"] for v in d["outstanding"].values()),
                        outstanding_by_status=_statuses(d["outstanding"]))


async def aging_date(conn: AsyncConnection, settings: Settings) -> date:
    last = await clock.last_completed(conn)
    if last is not None:
        return last
    instant = await clock.now(conn, clock.mode_of(settings), start=settings.simulated_clock_start)
    return clock.calendar_of(settings).date_of(instant)


async def portfolio_of(conn: AsyncConnection, settings: Settings) -> PortfolioOut:
    p = await store.portfolio(conn, await aging_date(conn, settings))
    return PortfolioOut(
        as_of=p["as_of"], aging_date=p["aging_date"], price=p["price_cents"], open_facilities=p["open_facilities"],
        total_outstanding=sum(v["cents"] for v in p["outstanding"].values()),
        outstanding_by_status=_statuses(p["outstanding"]),
        cvl_bands=[CvlBandOut(band=b, facilities=v["count"], outstanding=v["outstanding_cents"],
                              collateral=v["collateral_sats"]) for b, v in p["cvl_bands"].items()],
        aging=[AgingBucketOut(bucket=a["bucket"], min_days_past_due=a["low_days"], max_days_past_due=a["high_days"],
                              obligations=a["count"], outstanding=a["cents"]) for a in p["aging"]])


@router.get("/dashboard", response_model=DashboardOut,
            summary="Facility counts, total disbursed and collateral, outstanding by obligation status")
async def get_dashboard(conn: ReadConn, principal: Principal = require("dashboard:dashboard:read")) -> DashboardOut:
    return await dashboard_of(conn)


@router.get("/portfolio", response_model=PortfolioOut,
            summary="The loan book: outstanding by status, facilities by CVL band, delinquency aging")
async def get_portfolio(request: Request, conn: ReadConn,
                        principal: Principal = require("dashboard:dashboard:read")) -> PortfolioOut:
    return await portfolio_of(conn, request.app.state.settings)
