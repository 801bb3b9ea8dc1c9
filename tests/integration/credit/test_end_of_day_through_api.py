"""Issue 17 end to end: a facility made through the API, its business days run by the real worker
(EndOfDay workflow, the real steps) when an operator advances the simulated clock through the API;
the accruals, the EndOfDay summaries and the facility read back through the API."""

from __future__ import annotations

from datetime import date

from tests.harness import Stack
from tests.integration.credit.facility_helpers import PRICE, active_facility, set_price

API = "/api/v1"
ADVANCE = f"{API}/time/advance-to-next-end-of-day"
DAILY = 33  # ceil(100,000 ¢ × 12 % / 365) = ceil(32.88)


async def test_advancing_the_simulated_clock_accrues_through_the_worker_once_per_date(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, clock_mode="simulated") as stack:
        http = stack.http
        await set_price(engine, PRICE)
        fid, _, _ = await active_facility(stack, 100_000, disbursal_policy="SingleDisbursal", one_time_fee_rate="0")
        facility = (await http.get(f"{API}/credit-facilities/{fid}")).json()
        activated_on = date.fromisoformat(facility["activated_at"][:10])

        runs = []
        for body in (None, {"days": 2}):
            r = await http.post(ADVANCE, json=body) if body else await http.post(ADVANCE)
            assert r.status_code == 200, r.text
            runs += r.json()["end_of_days"]
        assert [e["status"] for e in runs] == ["COMPLETED"] * len(runs)
        dates = [date.fromisoformat(e["business_date"]) for e in runs]
        assert dates == sorted(set(dates)) and len(dates) >= 3  # each date once, in order
        accrued_dates = [d for d in dates if d >= activated_on]
        assert accrued_dates, (dates, activated_on)  # the activation day itself is accrued
        by_date = {e["business_date"]: {s["step"]: s["processed"] for s in e["steps"]} for e in runs}
        assert [by_date[d.isoformat()]["ACCRUE_INTEREST"] for d in accrued_dates] == [1] * len(accrued_dates)

        cycles = (await http.get(f"{API}/credit-facilities/{fid}/accrual-cycles",
                                 params={"direction": "asc"})).json()["items"]
        accruals = [a for c in cycles for a in c["accruals"]]
        assert [(a["period_end"], a["principal"], a["amount"]) for a in accruals] == [
            (d.isoformat(), 100_000, DAILY) for d in accrued_dates]

        again = await http.post(ADVANCE)  # the next date only: nothing run twice
        assert [e["business_date"] for e in again.json()["end_of_days"]] == [
            date.fromordinal(dates[-1].toordinal() + 1).isoformat()]
        cycles = (await http.get(f"{API}/credit-facilities/{fid}/accrual-cycles")).json()["items"]
        assert sum(len(c["accruals"]) for c in cycles) == len(accrued_dates) + 1
