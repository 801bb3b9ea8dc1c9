"""Issue 17's 3-month facility through the API with the worker running: the simulated clock starts
on 2025-01-15 (``simulated_clock_start``), the facility is proposed, approved, collateralized and
activated through the API, and an operator advances the clock month end by month end
(``POST /time/advance-to-next-end-of-day``); the real worker runs each date's EndOfDay. Every
accrual, obligation and statement figure is checked against the hand-computed values of
``test_end_of_day.py`` (lana's default product: 12 %, monthly cycle, daily accrual).

On the Temporal dev server, not the time-skipping one: the business clock is simulated here,
and a test server skipping ahead while an advance waits would time the facility workflows out."""

from __future__ import annotations

from datetime import date

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
ADVANCE = f"{API}/time/advance-to-next-end-of-day"
AMOUNT = 1_000_000  # $10,000.00, drawn at activation (single disbursal), no fee
DAILY = 329  # ceil(1,000,000 × 12 / 36,500) = ceil(328.77)
JAN15, JAN31, FEB28, MAR31, APR15 = (date(2025, 1, 15), date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31),
                                     date(2025, 4, 15))
MONTH_ENDS = [(JAN31, 17), (FEB28, 28), (MAR31, 31), (APR15, 15)]  # each cycle's end and its days
INTEREST = [n * DAILY for _, n in MONTH_ENDS]  # 5,593 / 9,212 / 10,199 / 4,935


async def _get(http, path: str, **params):
    r = await http.get(f"{API}{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _lines(section: dict) -> dict[str, int]:
    return {ln["code"]: ln["balance"] for ln in section["lines"]}


async def _activate_through_the_api(stack) -> str:
    http = stack.http
    customer_id, _ = await customer_with_deposit(stack)
    body = (await propose(http, customer_id, AMOUNT, disbursal_policy="SingleDisbursal",
                          one_time_fee_rate="0")).json()
    await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{body['id']}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await http.post(f"{API}/collaterals/{body['collateral_id']}/manual-update",
                        json={"collateral": 100_000_000})  # 1 BTC = $60,000 against $10,000
    assert r.status_code == 200 and r.json()["status"] == "ACTIVE", r.text
    return body["id"]


async def test_a_three_month_facility_through_the_api_and_the_worker(db_url, engine, dev_env):
    async with Stack.start(db_url, engine, dev_env.client, kyc_required=False, clock_mode="simulated",
                           simulated_clock_start="2025-01-15T10:00:00Z") as stack:
        http = stack.http
        await default_chart(engine)
        await set_price(engine, PRICE)
        assert (await _get(http, "/time"))["business_date"] == "2025-01-15"
        fid = await _activate_through_the_api(stack)
        facility = await _get(http, f"/credit-facilities/{fid}")
        assert (facility["activated_at"][:10], facility["maturity_date"]) == ("2025-01-15", "2025-04-15")

        today, posted = JAN15, 0
        for (month_end, days), interest in zip(MONTH_ENDS, INTEREST, strict=True):
            r = await http.post(ADVANCE, json={"days": (month_end - today).days + 1})
            assert r.status_code == 200, r.text
            runs = r.json()["end_of_days"]
            assert [e["business_date"] for e in runs][-1] == month_end.isoformat()
            assert {e["status"] for e in runs} == {"COMPLETED"}
            today = date.fromordinal(month_end.toordinal() + 1)
            posted += interest

            cycles = (await _get(http, f"/credit-facilities/{fid}/accrual-cycles", direction="asc"))["items"]
            done = [c for c in cycles if c["status"] == "POSTED"]
            assert done[-1]["end_date"] == month_end.isoformat() and done[-1]["accrued"] == interest
            assert len(done[-1]["accruals"]) == days
            assert {(a["principal"], a["amount"]) for a in done[-1]["accruals"]} == {(AMOUNT, DAILY)}

            period = {"from": "2025-01-01", "until": month_end.isoformat(), "currency": "USD"}
            for layer in ("SETTLED", "PENDING"):
                tb = await _get(http, "/statements/trial-balance", layer=layer, **period)
                assert tb["totals"]["balanced"], (month_end, layer)
            pl = await _get(http, "/statements/profit-and-loss", layer="SETTLED", **period)
            assert _lines(pl["revenue"])["41.01"] == posted and pl["net_income"] == posted
            bs = await _get(http, "/statements/balance-sheet", as_of=month_end.isoformat(), currency="USD",
                            layer="SETTLED")
            assets = _lines(bs["assets"])
            assert (assets["11.02.0201"], assets["11.02.0202"]) == (posted, AMOUNT) and bs["balanced"]
            bal = await _get(http, f"/credit-facilities/{fid}/balance")
            assert (bal["interest_posted"], bal["interest_accrued"], bal["total_outstanding"]) == (
                posted, 0, AMOUNT + posted), month_end

        assert posted == 29_939
        obligations = (await _get(http, f"/credit-facilities/{fid}/obligations", direction="asc", first=100))["items"]
        assert [(o["obligation_type"], o["amount"], o["status"], o["due_date"]) for o in obligations] == [
            ("DISBURSAL", AMOUNT, "DUE", "2025-04-15"),
            ("INTEREST", INTEREST[0], "OVERDUE", "2025-01-31"),  # 50 days after Jan 31: Mar 22
            ("INTEREST", INTEREST[1], "DUE", "2025-02-28"),
            ("INTEREST", INTEREST[2], "DUE", "2025-03-31"),
            ("INTEREST", INTEREST[3], "DUE", "2025-04-15")]
        facility = await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"),
                                  lambda b: b["status"] == "MATURED")
        assert facility["maturity_date"] == "2025-04-15"
