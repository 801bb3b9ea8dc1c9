"""Through the API with the worker running, on a simulated clock started on 2025-01-15: a
multiple-disbursal facility drawn in a later month (Feb 4), its February interest obligation going
due → overdue → defaulted on its own dates (terms: overdue 3 days after due, default 10 days after
due), every figure computed by hand.

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
DRAWN = 100_000  # $1,000.00 drawn on Feb 4
DAILY = 33  # ceil(100,000 × 12 / 36,500) = ceil(32.88)
FEB_DAYS = 25  # Feb 4 .. Feb 28
TERMS = {"disbursal_policy": "MultipleDisbursal", "one_time_fee_rate": "0",
         "obligation_overdue_duration_from_due": {"period": "DAYS", "units": 3},
         "obligation_liquidation_duration_from_due": {"period": "DAYS", "units": 10}}


async def _get(http, path: str, **params):
    r = await http.get(f"{API}{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _advance_through(http, last: date) -> list[dict]:
    today = date.fromisoformat((await _get(http, "/time"))["business_date"])
    r = await http.post(ADVANCE, json={"days": (last - today).days + 1})
    assert r.status_code == 200, r.text
    runs = r.json()["end_of_days"]
    assert runs[-1]["business_date"] == last.isoformat() and {e["status"] for e in runs} == {"COMPLETED"}
    return runs


async def test_a_later_disbursal_and_an_interest_obligation_through_overdue_to_default(db_url, engine, dev_env):
    async with Stack.start(db_url, engine, dev_env.client, kyc_required=False, clock_mode="simulated",
                           simulated_clock_start="2025-01-15T10:00:00Z") as stack:
        http = stack.http
        await default_chart(engine)
        await set_price(engine, PRICE)
        customer_id, _ = await customer_with_deposit(stack)
        body = (await propose(http, customer_id, 1_000_000, **TERMS)).json()
        fid = body["id"]
        await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{fid}"),
                       lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
        r = await http.post(f"{API}/collaterals/{body['collateral_id']}/manual-update", json={"collateral": 100_000_000})
        assert r.json()["status"] == "ACTIVE", r.text

        await _advance_through(http, date(2025, 2, 3))  # nothing drawn: nothing accrues, no obligation
        assert (await _get(http, f"/credit-facilities/{fid}/obligations"))["items"] == []
        r = await http.post(f"{API}/credit-facilities/{fid}/disbursals", json={"amount": DRAWN})
        assert r.status_code == 201, r.text
        d = await wait_for(lambda: http.get(f"{API}/disbursals/{r.json()['id']}"), lambda b: b["status"] != "NEW")
        assert d["status"] == "CONFIRMED", d

        await _advance_through(http, date(2025, 2, 28))
        cycles = (await _get(http, f"/credit-facilities/{fid}/accrual-cycles", direction="asc"))["items"]
        assert [(c["start_date"], c["status"], c["accrued"]) for c in cycles[:2]] == [
            ("2025-01-15", "POSTED", 0), ("2025-02-01", "POSTED", FEB_DAYS * DAILY)]
        feb = [a for a in cycles[1]["accruals"] if a["amount"]]
        assert (feb[0]["period_end"], len(feb), {a["principal"] for a in feb}) == ("2025-02-04", FEB_DAYS, {DRAWN})
        interest = [o for o in (await _get(http, f"/credit-facilities/{fid}/obligations", direction="asc"))["items"]
                    if o["obligation_type"] == "INTEREST"]
        assert [(o["amount"], o["status"], o["due_date"], o["overdue_date"], o["defaulted_date"]) for o in interest] == [
            (FEB_DAYS * DAILY, "DUE", "2025-02-28", "2025-03-03", "2025-03-10")]

        runs = await _advance_through(http, date(2025, 3, 10))
        moved = {e["business_date"]: {s["step"]: s["processed"] for s in e["steps"]} for e in runs}
        assert moved["2025-03-03"]["OBLIGATION_TRANSITIONS"] == 1 and moved["2025-03-10"]["OBLIGATION_TRANSITIONS"] == 1
        ob = (await _get(http, f"/credit-facilities/{fid}/obligations", direction="asc"))["items"]
        assert [(o["obligation_type"], o["status"]) for o in ob] == [("DISBURSAL", "NOT_YET_DUE"),
                                                                    ("INTEREST", "DEFAULTED")]
        bal = await _get(http, f"/credit-facilities/{fid}/balance")
        assert (bal["disbursed"], bal["interest_posted"], bal["due_interest_outstanding"],
                bal["overdue_interest_outstanding"]) == (DRAWN, FEB_DAYS * DAILY, 0, 0), bal
        tb = await _get(http, "/statements/trial-balance", **{"from": "2025-01-01", "until": "2025-03-10",
                                                              "currency": "USD", "layer": "SETTLED"})
        assert tb["totals"]["balanced"]
