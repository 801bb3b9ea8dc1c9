"""On a simulated clock a facility lives on the business date, not the wall clock's: after an
operator has advanced the clock, a new facility's proposal schedule, activation, maturity, first
accrual cycle and postings are all dated on the business date the API shows (credit.md §12.1).

On the Temporal dev server, not the time-skipping one: the business clock is simulated here,
and a test server skipping ahead while an advance waits would time the facility workflows out."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from domain.credit.terms import add_months
from tests.harness import Stack
from tests.integration.credit.facility_helpers import (
    PRICE,
    active_facility,
    customer_with_deposit,
    propose,
    set_price,
)

API = "/api/v1"
ADVANCE = f"{API}/time/advance-to-next-end-of-day"


async def test_a_facility_activated_after_advances_is_dated_on_the_business_date(db_url, engine, dev_env):
    async with Stack.start(db_url, engine, dev_env.client, kyc_required=False, clock_mode="simulated") as stack:
        http = stack.http
        await set_price(engine, PRICE)
        r = await http.post(ADVANCE, json={"days": 40})
        assert r.status_code == 200, r.text
        today = date.fromisoformat((await http.get(f"{API}/time")).json()["business_date"])
        wall = date.today()
        assert today >= wall + timedelta(days=39), (today, wall)  # the business date is far ahead

        customer_id, _ = await customer_with_deposit(stack)
        proposal = (await propose(http, customer_id, 100_000, disbursal_policy="SingleDisbursal",
                                  one_time_fee_rate="0")).json()
        plan = (await http.get(f"{API}/credit-facilities/{proposal['id']}/repayment-plan")).json()
        assert plan and plan[-1]["due_date"] == add_months(today, 3).isoformat(), plan  # as if activated today

        fid, _, _ = await active_facility(stack, 100_000, disbursal_policy="SingleDisbursal", one_time_fee_rate="0")
        facility = (await http.get(f"{API}/credit-facilities/{fid}")).json()
        assert facility["activated_at"][:10] == today.isoformat(), facility
        assert facility["maturity_date"] == add_months(today, 3).isoformat(), facility
        cycles = (await http.get(f"{API}/credit-facilities/{fid}/accrual-cycles")).json()["items"]
        assert [c["start_date"] for c in cycles] == [today.isoformat()], cycles
        async with engine.connect() as conn:
            effective = (await conn.execute(text(
                "SELECT DISTINCT effective FROM ledger_transactions WHERE idempotency_key LIKE :k"),
                {"k": f"%{fid}%"})).scalars().all()
        assert effective == [today], effective

        r = await http.post(ADVANCE)  # that business date's end of day accrues its first period
        assert r.status_code == 200, r.text
        cycles = (await http.get(f"{API}/credit-facilities/{fid}/accrual-cycles")).json()["items"]
        assert [a["period_end"] for a in cycles[0]["accruals"]] == [today.isoformat()], cycles
