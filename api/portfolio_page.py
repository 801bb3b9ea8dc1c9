"""``GET /portfolio``: the loan book at a glance, server-rendered (Jinja2, inline SVG charts drawn in
Python by ``api/charts.py``; no JavaScript, no build step, nothing fetched from elsewhere).

Authentication is the API's: the same bearer token, the same permission
(``dashboard:dashboard:read``), the same audit entry per request. A browser cannot send a bearer
header on a navigation, so the page also takes the token once as ``?token=`` (what ``lana token``
prints): it is verified and authorized like a header, then moved into a cookie and the browser is
sent back to ``/portfolio`` without it (303), so the token leaves the address bar and the history.
The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page or link
sends it, so no cross-site request forgery), ``Path=/portfolio`` (only these routes see it; the
``/api/v1`` routes never read cookies), ``Secure`` on HTTPS, and lives at most
``SESSION_MAX_S`` seconds, never past the token's own expiry. A header, when sent, wins over the
cookie.

The "Latest report runs" table lists the report runs with their files; each file is a small form
posting to ``/portfolio/reports/{report_id}/files/{extension}``, which checks
``report:report:read`` and answers 303 to the file's short-lived signed link.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
from fastapi import APIRouter, Cookie, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from activities.reports import store as reports_store
from activities.storage import build_storage
from api.authz import Principal, permission_object, require
from api.charts import Bar, Marker, bar_chart, btc, usd
from api.dashboard import DashboardOut, PortfolioOut, dashboard_of, portfolio_of
from api.deps import ReadConn
from api.enums import normalize
from domain.credit.status import ObligationStatus
from domain.dashboard.portfolio import CvlBand
from domain.errors import Forbidden, NotFound

router = APIRouter(tags=["portfolio page"], include_in_schema=False)
COOKIE = "lana_portfolio"
COOKIE_PATH = "/portfolio"
SESSION_MAX_S = 900  # the cookie lives 15 minutes at most (and never past the token's expiry)
REPORT_RUNS_SHOWN = 10
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # no script at all; inline styles only; not framed
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "base-uri 'none'; frame-ancestors 'none'",
}

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["html"]), auto_reload=False)
_templates.filters["usd"] = usd
_templates.filters["btc"] = btc

STATUS_COLORS = {ObligationStatus.NOT_YET_DUE: "#4c78a8", ObligationStatus.DUE: "#eeca3b",
                 ObligationStatus.OVERDUE: "#f58518", ObligationStatus.DEFAULTED: "#b2182b"}
STATUS_LABELS = {ObligationStatus.NOT_YET_DUE: "Not yet due", ObligationStatus.DUE: "Due",
                 ObligationStatus.OVERDUE: "Overdue", ObligationStatus.DEFAULTED: "Defaulted"}
BAND_COLORS = {CvlBand.BELOW_LIQUIDATION: "#b2182b", CvlBand.LIQUIDATION_TO_MARGIN_CALL: "#f58518",
               CvlBand.MARGIN_CALL_TO_INITIAL: "#eeca3b", CvlBand.ABOVE_INITIAL: "#54a24b",
               CvlBand.NO_EXPOSURE: "#9d9d9d"}
BAND_LABELS = {CvlBand.BELOW_LIQUIDATION: "< liquidation", CvlBand.LIQUIDATION_TO_MARGIN_CALL: "liq. – margin call",
               CvlBand.MARGIN_CALL_TO_INITIAL: "margin call – initial", CvlBand.ABOVE_INITIAL: "≥ initial",
               CvlBand.NO_EXPOSURE: "no loan"}
AGING_LABELS = {"current": "Current", "days_1_30": "1–30 days", "days_31_60": "31–60 days",
                "days_61_90": "61–90 days", "over_90_days": "> 90 days"}
AGING_COLORS = {"current": "#54a24b", "days_1_30": "#eeca3b", "days_31_60": "#f58518", "days_61_90": "#e45756",
                "over_90_days": "#b2182b"}


async def page_session(request: Request, lana_portfolio: str | None = Cookie(None)) -> None:
    """Hands the page's token to the authorizer (``api.authz.credentials``): ``?token=`` on
    ``GET /portfolio`` (then exchanged for the cookie), else the cookie."""
    token = request.query_params.get("token") if request.url.path == COOKIE_PATH else None
    if token:
        request.state.page_authorization = f"Bearer {token}"
        request.state.page_token = token
    elif lana_portfolio:
        request.state.page_authorization = f"Bearer {lana_portfolio}"


def _session_cookie(request: Request, response: Response, token: str) -> None:
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)  # verified by require
    ttl = int(min(SESSION_MAX_S, float(exp) - time.time()))
    settings = request.app.state.settings
    response.set_cookie(COOKIE, token, max_age=max(ttl, 1), path=COOKIE_PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https" or settings.is_production)


def _charts(d: DashboardOut, p: PortfolioOut) -> dict:
    """The three charts; each bar's key is its value's API spelling (as the figures' test ids)."""
    statuses = bar_chart("chart-outstanding", "Outstanding by obligation status", [
        Bar(normalize(s.status.value), STATUS_LABELS[s.status], s.outstanding, STATUS_COLORS[s.status],
            caption=f"{s.obligations} obligation{'s' if s.obligations != 1 else ''}")
        for s in d.outstanding_by_status], fmt=usd)
    bands = bar_chart("chart-cvl", "Open facilities by CVL band", [
        Bar(normalize(b.band.value), BAND_LABELS[b.band], b.facilities, BAND_COLORS[b.band], caption=usd(b.outstanding))
        for b in p.cvl_bands], markers=[Marker("liquidation", "liquidation", 1, "#b2182b"),
                                        Marker("margin-call", "margin call", 2, "#f58518"),
                                        Marker("initial", "initial", 3, "#54a24b")])
    aging = bar_chart("chart-aging", "Delinquency aging (outstanding by days past due)", [
        Bar(normalize(a.bucket), AGING_LABELS[a.bucket], a.outstanding, AGING_COLORS[a.bucket],
            caption=f"{a.obligations} obligation{'s' if a.obligations != 1 else ''}") for a in p.aging], fmt=usd)
    return {"outstanding": statuses, "cvl": bands, "aging": aging}


@router.get("/portfolio", response_class=HTMLResponse, summary="The loan book at a glance (HTML)")
async def portfolio_page(request: Request, conn: ReadConn, _session: None = Depends(page_session),
                         principal: Principal = require("dashboard:dashboard:read")) -> Response:
    token = getattr(request.state, "page_token", None)
    if token:
        response = RedirectResponse(COOKIE_PATH, status_code=303, headers=PAGE_HEADERS)
        _session_cookie(request, response, token)
        return response
    settings = request.app.state.settings
    d = await dashboard_of(conn)
    p = await portfolio_of(conn, settings)
    authz = request.app.state.authz
    runs = None
    if authz.can(principal, "report:report:read"):  # shown only to report readers, audited as a read
        await authz.check(request, "report:report:read", permission_object("report:report:read"))
        runs = await reports_store.recent_runs(conn, REPORT_RUNS_SHOWN)
    html = _templates.get_template("portfolio.html").render(
        d=d, p=p, charts=_charts(d, p), runs=runs, user=principal.email, status_labels=STATUS_LABELS,
        band_labels=BAND_LABELS, aging_labels=AGING_LABELS,
        api=normalize)  # every data-testid key is the value's API spelling: NOT_YET_DUE, DAYS_1_30
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.post("/portfolio/reports/{report_id}/files/{extension}", summary="Open one report file (303 to its link)")
async def report_file(report_id: uuid.UUID, extension: str, request: Request, conn: ReadConn,
                      _session: None = Depends(page_session),
                      principal: Principal = require("report:report:read")) -> Response:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("Report files open from the portfolio page only.")
    found = await reports_store.report_file(conn, str(report_id), extension.lower().lstrip("."))
    if found is None:
        raise NotFound(f"Report {report_id} has no {extension!r} file.")
    settings = request.app.state.settings
    url, _expires = build_storage(settings).download_link(found.path_in_bucket, settings.documents_link_ttl_seconds, time.time())
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store",
                                                           "Referrer-Policy": "no-referrer"})
