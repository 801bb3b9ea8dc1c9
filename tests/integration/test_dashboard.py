"""The dashboard and portfolio reads (issue 20 items 5–6) on an empty book, the SQL band and aging
rules against the domain's, and how ``/portfolio`` authenticates (token exchange, cookie, audit).
The seeded book, the figures and the browser: ``test_portfolio_page.py``."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text

from activities.dashboard.store import _BAND_CASE, _BAND_INPUT, _aging_case
from domain.credit.cvl import cvl
from domain.credit.status import ObligationStatus
from domain.dashboard.portfolio import aging_bucket, cvl_band, days_past_due

API = "/api/v1"


async def test_the_sql_bands_and_aging_buckets_are_the_domain_rules(engine):
    terms = {"liquidation_cvl": "105", "margin_call_cvl": "125", "initial_cvl": "140"}
    price = 6_000_000
    # collateral values around each line (1,000.00 outstanding: CVL = value / 10), and the edges
    cases = [(sats, out) for sats, out in itertools.product(
        [0, 1, 1_749_999, 1_750_000, 1_758_333, 2_083_333, 2_083_334, 2_333_333, 2_333_334, 10**9],
        [0, 1, 100_000, 100_001, 12_345_678])]
    values = ", ".join(f"({s}, {o}, CAST('{json.dumps(terms)}' AS jsonb))" for s, o in cases)
    async with engine.connect() as conn:
        got = (await conn.execute(text(
            f"SELECT {_BAND_CASE} FROM (SELECT {_BAND_INPUT} FROM (VALUES {values}) AS "
            f"f(collateral_sats, outstanding_cents, terms), (SELECT {price}::bigint AS price) p) x"))).scalars().all()
    want = [cvl_band(cvl(s, o, price) if o else None, o, Decimal("105"), Decimal("125"), Decimal("140")).value
            for s, o in cases]
    assert got == want
    assert set(want) == {"no_exposure", "below_liquidation", "liquidation_to_margin_call", "margin_call_to_initial",
                         "above_initial"}

    as_of = date(2025, 6, 30)
    rows = [(status, as_of - timedelta(days=d)) for status in ObligationStatus if status is not ObligationStatus.PAID
            for d in (-5, 0, 1, 30, 31, 60, 61, 90, 91, 400)]
    values = ", ".join(f"('{s.value}', DATE '{d.isoformat()}')" for s, d in rows)
    async with engine.connect() as conn:
        got = (await conn.execute(text(f"SELECT {_aging_case()} FROM (VALUES {values}) AS t(status, due_date)"),
                                  {"as_of": as_of})).scalars().all()
    want = [aging_bucket(days_past_due(s, d, as_of)).name for s, d in rows]
    assert got == want
    assert set(want) == {"current", "days_1_30", "days_31_60", "days_61_90", "over_90_days"}


async def test_an_empty_book(stack):
    d = (await stack.http.get(f"{API}/dashboard")).json()
    assert {k: d[k] for k in ("pending_facilities", "active_facilities", "total_disbursed", "total_collateral",
                              "total_outstanding")} == dict.fromkeys(
        ("pending_facilities", "active_facilities", "total_disbursed", "total_collateral", "total_outstanding"), 0)
    assert [(s["status"], s["outstanding"]) for s in d["outstanding_by_status"]] == [
        ("NOT_YET_DUE", 0), ("DUE", 0), ("OVERDUE", 0), ("DEFAULTED", 0)]
    p = (await stack.http.get(f"{API}/portfolio")).json()
    assert p["price"] is None and p["open_facilities"] == 0
    assert [b["band"] for b in p["cvl_bands"]] == ["BELOW_LIQUIDATION", "LIQUIDATION_TO_MARGIN_CALL",
                                                   "MARGIN_CALL_TO_INITIAL", "ABOVE_INITIAL", "NO_EXPOSURE"]
    assert [(a["bucket"], a["min_days_past_due"], a["max_days_past_due"]) for a in p["aging"]] == [
        ("CURRENT", 0, 0), ("DAYS_1_30", 1, 30), ("DAYS_31_60", 31, 60), ("DAYS_61_90", 61, 90),
        ("OVER_90_DAYS", 91, None)]


async def _audit(engine, request_id: str) -> list[tuple[str, bool]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT action, authorized FROM audit_entries WHERE request_id = :r "
                                       "ORDER BY id"), {"r": request_id})
        return [(r.action, r.authorized) for r in rows]


async def test_the_page_takes_the_token_once_then_a_strict_http_only_cookie(stack):
    token = await stack.token_for("viewer@portfolio.test", "accountant")  # dashboard_viewer, no report_viewer
    anon = stack.anonymous()

    r = await anon.get("/portfolio")
    assert r.status_code == 401 and r.json()["code"] == "auth.unauthenticated"
    r = await anon.get("/portfolio", params={"token": "not-a-token"})
    assert r.status_code == 401 and "set-cookie" not in r.headers

    r = await anon.get("/portfolio", params={"token": token}, headers={"x-request-id": "exchange-1"})
    assert r.status_code == 303 and r.headers["location"] == "/portfolio"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"lana_portfolio={token};")
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= set(attrs) and "secure" not in attrs  # plain http here
    assert attrs["path"] == "Path=/portfolio" and attrs["samesite"].lower() == "samesite=strict"
    assert 0 < int(attrs["max-age"].split("=")[1]) <= 900
    assert await _audit(stack.engine, "exchange-1") == [("dashboard:dashboard:read", True)]

    anon.cookies.set("lana_portfolio", token)
    r = await anon.get("/portfolio", headers={"x-request-id": "page-1"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src" not in r.headers["content-security-policy"] and r.headers["cache-control"] == "no-store"
    assert re.search(r'data-testid="figure-active-facilities" data-value="0"', r.text)
    assert 'data-testid="chart-outstanding"' in r.text and 'data-testid="chart-cvl-line-margin-call"' in r.text
    assert "report:report:read" in r.text  # an accountant does not read reports: the runs are not listed
    assert await _audit(stack.engine, "page-1") == [("dashboard:dashboard:read", True)]

    # the cookie opens the page only: the API still wants the header
    r = await anon.get(f"{API}/dashboard")
    assert r.status_code == 401

    # a role without dashboard_viewer is refused, and the refusal is audited
    sets = {s["name"]: s["id"] for s in (await stack.http.get(
        f"{API}/permission-sets", params={"first": 100})).json()["items"]}
    r = await stack.http.post(f"{API}/roles", json={"name": "no-dashboard",
                                                     "permission_set_ids": [sets["access_viewer"]]})
    assert r.status_code == 201, r.text
    other = stack.anonymous()
    other.cookies.set("lana_portfolio", await stack.token_for("nodash@portfolio.test", "no-dashboard"))
    r = await other.get("/portfolio", headers={"x-request-id": "page-2"})
    assert r.status_code == 403
    assert await _audit(stack.engine, "page-2") == [("dashboard:dashboard:read", False)]


async def test_a_report_file_opens_from_the_page_only_for_report_readers(stack):
    missing = f"/portfolio/reports/{uuid.uuid4()}/files/csv"
    r = await stack.http.post(missing, headers={"sec-fetch-site": "cross-site"})  # a form on another site
    assert r.status_code == 403, r.text
    r = await stack.http.post(missing, headers={"sec-fetch-site": "same-origin"})
    assert r.status_code == 404 and r.json()["code"] == "common.not_found", r.text
    accountant = stack.anonymous()
    accountant.cookies.set("lana_portfolio", await stack.token_for("acct@portfolio.test", "accountant"))
    r = await accountant.post(missing)
    assert r.status_code == 403 and r.json()["code"] == "auth.forbidden", r.text
