"""A small loan book seeded through the API with the worker running, on a simulated clock started on
2025-01-28, then ``/portfolio`` loaded in headless Chromium (Debian's ``/usr/bin/chromium`` over
the DevTools protocol, ``tests/browser.py``): the charts are drawn (non-zero size) and every figure
on the page equals ``GET /api/v1/dashboard`` and ``GET /api/v1/portfolio``, which equal the
per-facility reads and the figures worked out by hand below.

The book (every facility $1,000.00 drawn at activation, 12 %, no fee, $60,000 per BTC):

- A: 0.1 BTC; its January interest (Jan 28–31, 4 × 33 = 132 cents, due Jan 31) is overdue on
  Feb 1 and defaulted on Feb 3 (terms: overdue 1 day, default 3 days after due); CVL 600.
- B: collateral lowered to 2,166,667 sats ($1,300.00): CVL 129, between margin call and initial;
  its interest is overdue on Feb 1.
- C: collateral lowered to 1,900,000 sats ($1,140.00): CVL 113, in margin call; its interest is
  due (overdue only after 10 days).
- D: pending, 100,000 sats posted, far from the activation CVL.

Through Feb 3 (seven end-of-day runs) the principal is not yet due (current) and each interest
obligation is 3 days past due. On the Temporal dev server: the business clock is simulated.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import text

from activities.storage import build_storage, encode_path
from domain.credit.cvl import cvl
from domain.customers.documents import link_valid
from tests.browser import CHROMIUM, chromium_page, listening_socket, serving
from tests.harness import Stack
from tests.integration.accounting_helpers import default_chart
from tests.integration.credit.facility_helpers import (
    PRICE,
    customer_with_deposit,
    propose,
    set_price,
    wait_for,
)

API = "/api/v1"
AMOUNT = 100_000
INTEREST = 4 * 33  # Jan 28..31 at ceil(100,000 × 12 / 36,500)
COLLATERAL = {"A": 10_000_000, "B": 2_166_667, "C": 1_900_000}
PENDING_SATS = 100_000
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                              "(apt-get install chromium; .ci/run installs it)")


def _days(n: int) -> dict:
    return {"period": "DAYS", "units": n}


async def _facility(stack, overdue: int, default: int, collateral: int) -> str:
    http = stack.http
    customer_id, _ = await customer_with_deposit(stack)
    body = (await propose(http, customer_id, AMOUNT, disbursal_policy="SingleDisbursal", one_time_fee_rate="0",
                          obligation_overdue_duration_from_due=_days(overdue),
                          obligation_liquidation_duration_from_due=_days(default))).json()
    await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{body['id']}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await http.post(f"{API}/collaterals/{body['collateral_id']}/manual-update", json={"collateral": 10_000_000})
    assert r.status_code == 200 and r.json()["status"] == "ACTIVE", r.text
    if collateral != 10_000_000:
        r = await http.post(f"{API}/collaterals/{body['collateral_id']}/manual-update", json={"collateral": collateral})
        assert r.status_code == 200, r.text
    await wait_for(lambda: http.get(f"{API}/credit-facilities/{body['id']}"), lambda b: b["disbursed"] == AMOUNT)
    return body["id"]


async def _pending(stack) -> str:
    customer_id, _ = await customer_with_deposit(stack)
    body = (await propose(stack.http, customer_id, AMOUNT)).json()
    await wait_for(lambda: stack.http.get(f"{API}/pending-credit-facilities/{body['id']}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await stack.http.post(f"{API}/collaterals/{body['collateral_id']}/manual-update",
                              json={"collateral": PENDING_SATS})
    assert r.status_code == 200 and r.json()["pending_status"] == "PENDING_COLLATERALIZATION", r.text
    return body["id"]


async def _report_run(stack) -> tuple[str, str]:
    """One finished report run with a TXT file (pipe-separated, shown inline by the browser; a CSV would
    be downloaded) in local storage, written straight to the report tables."""
    run_id, report_id = uuid.uuid4(), uuid.uuid4()
    path, data = f"reports/{run_id}/loan_book.txt", b"facility|outstanding\nA|100000\n"
    await build_storage(stack.settings).upload(data, path, "text/plain")
    async with stack.engine.begin() as conn:
        await conn.execute(text("INSERT INTO report_runs (id, run_key, state, run_type, requested_by, start_time, "
                                "finished_at, version) VALUES (:id, :key, 'SUCCESS', 'MANUAL', 'test', now(), now(), 1)"),
                           {"id": run_id, "key": f"manual:{run_id}"})
        await conn.execute(text("INSERT INTO reports (id, run_id, external_id, definition_id, norm, name, "
                                "friendly_name, row_count) VALUES (:id, :run, :ext, 'loan_book', 'internal', "
                                "'loan_book', 'Loan book', 1)"), {"id": report_id, "run": run_id,
                                                                  "ext": f"{run_id}_internal_loan_book"})
        await conn.execute(text("INSERT INTO report_files (report_id, extension, path_in_bucket, content_type, "
                                "size_bytes) VALUES (:id, 'txt', :path, 'text/plain', :size)"),
                           {"id": report_id, "path": path, "size": len(data)})
    return f"{report_id}.txt", path


async def _get(http, path: str) -> dict:
    r = await http.get(f"{API}{path}")
    assert r.status_code == 200, r.text
    return r.json()


PAGE_STATE = """(() => {
  const q = s => Array.from(document.querySelectorAll(s));
  const size = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  return {
    url: location.href, cookie: document.cookie,
    figures: Object.fromEntries(q('[data-testid][data-value]:not(rect)').map(e => [e.dataset.testid, e.dataset.value])),
    charts: Object.fromEntries(q('svg.chart').map(e => [e.dataset.testid, size(e)])),
    bars: Object.fromEntries(q('svg.chart rect[data-testid]').map(e => [e.dataset.testid, [Number(e.dataset.value), ...size(e)]])),
    lines: Object.fromEntries(q('svg.chart line[data-testid]').map(e => [e.dataset.testid, size(e)])),
    files: q('[data-testid=report-file]').map(e => e.dataset.value),
  };
})()"""


async def test_the_portfolio_page_draws_the_book_and_its_figures_are_the_apis(db_url, engine, dev_env, tmp_path):
    sock = listening_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with Stack.start(db_url, engine, dev_env.client, kyc_required=False, clock_mode="simulated",
                           simulated_clock_start="2025-01-28T10:00:00Z", public_base_url=base) as stack:
        http = stack.http
        await default_chart(engine)
        await set_price(engine, PRICE)
        ids = {"A": await _facility(stack, 1, 3, COLLATERAL["A"]), "B": await _facility(stack, 1, 360, COLLATERAL["B"]),
               "C": await _facility(stack, 10, 360, COLLATERAL["C"])}
        await _pending(stack)
        r = await http.post(f"{API}/time/advance-to-next-end-of-day", json={"days": 7})
        assert r.status_code == 200, r.text
        assert r.json()["end_of_days"][-1]["business_date"] == "2025-02-03"
        file_key, file_path = await _report_run(stack)

        d = await _get(http, "/dashboard")
        p = await _get(http, "/portfolio")

        # the API's figures, against the per-facility reads and the hand-worked book
        obligations = [o for fid in ids.values()
                       for o in (await _get(http, f"/credit-facilities/{fid}/obligations"))["items"]]
        per_status = {s: sum(o["outstanding"] for o in obligations if o["status"] == s)
                      for s in ("NOT_YET_DUE", "DUE", "OVERDUE", "DEFAULTED")}
        assert per_status == {"NOT_YET_DUE": 3 * AMOUNT, "DUE": INTEREST, "OVERDUE": INTEREST, "DEFAULTED": INTEREST}
        for figures in (d, p):
            assert {s["status"]: s["outstanding"] for s in figures["outstanding_by_status"]} == per_status
            assert figures["total_outstanding"] == sum(per_status.values())
        assert (d["pending_facilities"], d["active_facilities"], d["total_disbursed"], d["total_collateral"]) == (
            1, 3, 3 * AMOUNT, sum(COLLATERAL.values()) + PENDING_SATS)
        facilities = {k: await _get(http, f"/credit-facilities/{fid}/balance") for k, fid in ids.items()}
        cvls = {k: cvl(COLLATERAL[k], b["total_outstanding"], PRICE) for k, b in facilities.items()}
        assert cvls == {"A": Decimal(600), "B": Decimal(129), "C": Decimal(113)}
        bands = {b["band"]: (b["facilities"], b["outstanding"], b["collateral"]) for b in p["cvl_bands"]}
        assert bands == {"BELOW_LIQUIDATION": (0, 0, 0),
                         "LIQUIDATION_TO_MARGIN_CALL": (1, facilities["C"]["total_outstanding"], COLLATERAL["C"]),
                         "MARGIN_CALL_TO_INITIAL": (1, facilities["B"]["total_outstanding"], COLLATERAL["B"]),
                         "ABOVE_INITIAL": (1, facilities["A"]["total_outstanding"], COLLATERAL["A"]),
                         "NO_EXPOSURE": (0, 0, 0)}
        assert p["aging_date"] == "2025-02-03" and p["price"] == PRICE
        assert {a["bucket"]: (a["obligations"], a["outstanding"]) for a in p["aging"]} == {
            "CURRENT": (3, 3 * AMOUNT), "DAYS_1_30": (3, 3 * INTEREST), "DAYS_31_60": (0, 0),
            "DAYS_61_90": (0, 0), "OVER_90_DAYS": (0, 0)}
        assert date.fromisoformat(p["aging_date"]) == date(2025, 2, 3)

        token = await stack.token_for(stack.settings.bootstrap_admin_email, "superuser")
        async with serving(stack.app, sock) as url, chromium_page() as page:
            assert url == base
            await page.goto(f"{base}/portfolio?token={token}")
            state = await page.evaluate(PAGE_STATE)
            png = await page.screenshot()
            assert png.startswith(b"\x89PNG")
            if os.environ.get("LANA_PORTFOLIO_SCREENSHOT"):  # to look at it
                await asyncio.to_thread(Path(os.environ["LANA_PORTFOLIO_SCREENSHOT"]).write_bytes, png)

            assert state["url"] == f"{base}/portfolio"  # the token left the address bar
            assert state["cookie"] == ""  # HttpOnly: no script sees the session
            # drawn: every chart and threshold line has a size, every non-zero bar a height
            assert set(state["charts"]) == {"chart-outstanding", "chart-cvl", "chart-aging"}
            assert all(w > 0 and h > 0 for w, h in state["charts"].values()), state["charts"]
            assert set(state["lines"]) == {"chart-cvl-line-liquidation", "chart-cvl-line-margin-call",
                                           "chart-cvl-line-initial"}
            assert all(h > 0 for _w, h in state["lines"].values())
            bars = state["bars"]
            assert len(bars) == 4 + 5 + 5
            assert all((w > 0 and h > 0) == (v > 0) for v, w, h in bars.values()), bars

            # the figures on the page are the API's
            f = state["figures"]
            assert {k: int(f[f"figure-{k.replace('_', '-')}"]) for k in (
                "pending_facilities", "active_facilities", "total_disbursed", "total_collateral",
                "total_outstanding")} == {k: d[k] for k in ("pending_facilities", "active_facilities",
                                                           "total_disbursed", "total_collateral", "total_outstanding")}
            assert int(f["figure-price"]) == p["price"] and f["aging-date"] == p["aging_date"]
            for s in d["outstanding_by_status"]:
                assert int(f[f"outstanding-{s['status']}"]) == s["outstanding"] == bars[
                    f"chart-outstanding-bar-{s['status']}"][0]
                assert int(f[f"outstanding-{s['status']}-count"]) == s["obligations"]
            for b in p["cvl_bands"]:
                key = b["band"]
                assert (int(f[f"cvl-{key}-facilities"]), int(f[f"cvl-{key}-outstanding"]),
                        int(f[f"cvl-{key}-collateral"])) == (b["facilities"], b["outstanding"], b["collateral"])
                assert bars[f"chart-cvl-bar-{key}"][0] == b["facilities"]
            for a in p["aging"]:
                key = a["bucket"]
                assert (int(f[f"aging-{key}-count"]), int(f[f"aging-{key}"])) == (a["obligations"], a["outstanding"])
                assert bars[f"chart-aging-bar-{key}"][0] == a["outstanding"]

            # the latest report run, and its file through the page's form: 303 to the file's signed link
            # (serving a report file from local storage is the reports module's part: not checked here)
            assert state["files"] == [file_key]
            await page.click_and_wait("[data-testid=report-file]")
            assert await page.evaluate("location.pathname") == f"/local-storage/{encode_path(file_path)}"
            signed = dict(parse_qsl(await page.evaluate("location.search.slice(1)")))
            assert link_valid(build_storage(stack.settings).secret, file_path, int(signed["expires"]), signed["sig"])
            # and the local-storage route serves the published report file itself
            assert (await page.evaluate("document.body.innerText")).strip() == "facility|outstanding\nA|100000"
