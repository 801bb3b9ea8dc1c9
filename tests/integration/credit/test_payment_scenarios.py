"""Issue 18: lana's six simulation scenarios end to end, through the API with the worker running
and the simulated business clock advanced by the operator (``POST /time/advance-to-next-end-of-day``
runs every EndOfDay in the worker). After every month end (and at the end) each balance figure and
every obligation is compared with the reference model (``scenario_model.py``, written from the
spec); each payment's answer is compared with the model's allocation.

1. timely payments to completion;
2. interest paid late: overdue, then paid, then completed;
3. principal paid late: due, overdue, defaulted (the defaulted account is credited), then completed;
4. a second disbursal in a later month;
5. principal under-paid: completion refused naming the remainder, which goes overdue, then paid;
6. interest under-paid: partly paid obligations keep their status, the oldest is paid first.

Facility: $1,000.00 for 3 months at 12 %, monthly cycles, daily accrual, no fee; collateral 0.1 BTC
at $60,000. Scenario 3 uses a 10-day overdue and 30-day default period (lana's 50 / 360 would need
a year of simulated days); the others lana's 50 / 360.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta

import pytest

from tests.harness import Stack
from tests.integration.credit.facility_helpers import (
    PRICE,
    active_facility,
    deposit_balance,
    set_price,
    wait_for,
)
from tests.integration.credit.scenario_model import DUE, INTEREST, NYD, OVD, PRINCIPAL, Model, month_end

API = "/api/v1"
AMOUNT = 100_000
SAVINGS = 50_000  # deposited by the customer besides the disbursal
SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0"}
Action = Callable[[Model], int | None]  # the amount to pay (None: nothing), from the model's state


def _day(d: date, n: int) -> date:
    return d + timedelta(days=n)


class Scenario:
    def __init__(self, stack: Stack, fid: str, model: Model, collateral_id: str) -> None:
        self.stack, self.http, self.fid, self.model, self.collateral_id = stack, stack.http, fid, model, collateral_id
        self.business_date = model.activated
        self.checks = 0
        self.deposit = None

    async def pay(self, amount: int, *, expect: int = 201) -> dict:
        r = await self.http.post(f"{API}/credit-facilities/{self.fid}/payments", json={"amount": amount})
        assert r.status_code == expect, r.text
        if expect == 201:
            body = r.json()
            shares = self.model.pay(amount)
            assert [(a["obligation_type"], a["obligation_status"], a["amount"]) for a in body["allocations"]] == \
                shares, (self.business_date, body["allocations"], shares)
            assert body["effective"] == self.business_date.isoformat()  # the business date, not the wall clock
            return body
        return r.json()

    async def disburse(self, amount: int) -> None:
        r = await self.http.post(f"{API}/credit-facilities/{self.fid}/disbursals", json={"amount": amount})
        assert r.status_code == 201, r.text
        await wait_for(lambda: self.http.get(f"{API}/disbursals/{r.json()['id']}"),
                       lambda b: b["status"] == "CONFIRMED")
        self.model.disburse(amount, self.business_date)

    async def advance_to(self, target: date) -> None:
        """Run every EndOfDay from the current business date to the day before ``target``, in
        chunks that stop after each month end to compare everything with the model."""
        while self.business_date < target:
            stop = min(target, _day(month_end(self.business_date), 1))
            days = (stop - self.business_date).days
            r = await self.http.post(f"{API}/time/advance-to-next-end-of-day", json={"days": days})
            assert r.status_code == 200, r.text
            # (the first advance also runs the dates closed before the facility existed)
            runs = [e for e in r.json()["end_of_days"] if e["business_date"] >= self.business_date.isoformat()]
            assert [e["business_date"] for e in runs] == [
                _day(self.business_date, i).isoformat() for i in range(days)]
            assert all(e["status"] == "COMPLETED" and e["failed"] == 0 for e in runs), runs
            for i in range(days):
                self.model.end_of_day(_day(self.business_date, i))
            self.business_date = stop
            if stop == _day(month_end(_day(stop, -1)), 1):
                await self.check()

    async def check(self) -> None:
        bal = (await self.http.get(f"{API}/credit-facilities/{self.fid}/balance")).json()
        expected = self.model.balance()
        assert {k: bal[k] for k in expected} == expected, (self.business_date, bal)
        obs = (await self.http.get(f"{API}/credit-facilities/{self.fid}/obligations",
                                   params={"first": 100})).json()["items"]
        got = sorted((o["obligation_type"], o["amount"], o["outstanding"], o["status"], o["due_date"]) for o in obs)
        assert got == self.model.obligation_rows(), (self.business_date, got)
        disbursed = expected["disbursed"]
        assert await deposit_balance(self.stack, self.deposit) == SAVINGS + disbursed - self.model.paid
        self.checks += 1

    async def complete(self) -> None:
        r = await self.http.post(f"{API}/credit-facilities/{self.fid}/complete")
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["collateral"]) == ("CLOSED", 0)
        bal = (await self.http.get(f"{API}/credit-facilities/{self.fid}/balance")).json()
        assert (bal["collateral"], bal["total_outstanding"], bal["any_outstanding_or_defaulted"]) == (0, 0, False)
        r = await self.http.post(f"{API}/credit-facilities/{self.fid}/payments", json={"amount": 1})
        assert (r.status_code, r.json()["code"]) == (409, "credit.payment_on_closed_facility"), r.text


@asynccontextmanager
async def _scenario(db_url, engine, ts_env, *, policy: dict, overdue: int = 50,
                    default: int = 360) -> AsyncIterator[Scenario]:
    """The stack on a simulated clock, and an active facility made through the API today. The
    test server's automatic time skipping is off: business days move with the simulated clock
    only (skipping would jump Temporal's clock past the workflows' ten-year run timeout)."""
    with ts_env.auto_time_skipping_disabled():
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, clock_mode="simulated") as stack:
            await set_price(engine, PRICE)
            today = date.fromisoformat((await stack.http.get(f"{API}/time")).json()["business_date"])
            terms = {**policy, "obligation_overdue_duration_from_due": {"period": "DAYS", "units": overdue},
                     "obligation_liquidation_duration_from_due": {"period": "DAYS", "units": default}}
            fid, collateral_id, deposit = await active_facility(stack, AMOUNT, **terms)
            r = await stack.http.post(f"{API}/deposits", json={"deposit_account_id": str(deposit), "amount": SAVINGS})
            assert r.status_code == 201, r.text  # the customer's own money, to pay the interest with
            facility = (await stack.http.get(f"{API}/credit-facilities/{fid}")).json()
            activated = date.fromisoformat(facility["activated_at"][:10])
            if activated != today:
                pytest.skip("the wall clock crossed midnight during the set-up")
            model = Model(activated, overdue_days=overdue, default_days=default)
            assert facility["maturity_date"] == model.maturity.isoformat()
            if policy.get("disbursal_policy") == "SingleDisbursal":
                model.disburse(AMOUNT, activated)
            s = Scenario(stack, fid, model, collateral_id)
            s.deposit = deposit
            yield s


def _month_ends(model: Model) -> list[date]:
    """The day after each cycle end (the first business day an interest obligation can be paid)."""
    out, d = [], month_end(model.activated)
    while d < model.maturity:
        out.append(_day(d, 1))
        d = month_end(_day(d, 1))
    return out


async def _pay_interest_monthly(s: Scenario, *, short: int = 0, skip_first: bool = False) -> None:
    for i, d in enumerate(_month_ends(s.model)):
        await s.advance_to(d)
        if skip_first and i == 0:
            continue
        due = s.model.interest_payable()
        if due - short > 0:
            await s.pay(due - short)


async def _settle_at_maturity(s: Scenario) -> None:
    await s.advance_to(_day(s.model.maturity, 1))
    assert s.model.outstanding(PRINCIPAL, DUE) > 0  # the principal fell due on the maturity date
    await s.pay(s.model.balance()["uncovered_outstanding"])
    await s.advance_to(_day(month_end(s.business_date), 1))  # a month end with nothing left
    await s.complete()


async def test_scenario_1_timely_payments_to_completion(db_url, engine, ts_env):
    async with _scenario(db_url, engine, ts_env, policy=SINGLE) as s:
        await _pay_interest_monthly(s)
        assert s.model.outstanding(INTEREST, DUE, OVD) == 0
        await _settle_at_maturity(s)
        assert s.checks >= 4


async def test_scenario_2_interest_paid_late_goes_overdue_then_is_paid_then_completed(db_url, engine, ts_env):
    async with _scenario(db_url, engine, ts_env, policy=SINGLE) as s:
        first_due = month_end(s.model.activated)
        await s.advance_to(_day(first_due, 51))  # nothing paid: the first interest passes its overdue date
        first = next(o for o in s.model.obligations if o.kind == INTEREST)
        assert (first.status, first.outstanding) == (OVD, first.amount)
        await s.check()
        body = await s.pay(s.model.interest_payable())  # every interest payable, the overdue one first
        assert body["allocations"][0]["obligation_status"] == "OVERDUE"
        assert s.model.outstanding(INTEREST, OVD, DUE) == 0
        for d in _month_ends(s.model):
            if d > s.business_date:
                await s.advance_to(d)
                await s.pay(s.model.interest_payable())
        await _settle_at_maturity(s)


async def test_scenario_3_principal_paid_late_goes_overdue_then_defaults(db_url, engine, ts_env):
    async with _scenario(db_url, engine, ts_env, policy=SINGLE, overdue=10, default=30) as s:
        await _pay_interest_monthly(s)
        m = s.model.maturity
        await s.advance_to(_day(m, 1))
        await s.pay(s.model.interest_payable())  # the last interest, not the principal
        await s.advance_to(_day(m, 11))
        assert s.model.outstanding(PRINCIPAL, OVD) == AMOUNT
        await s.check()
        await s.advance_to(_day(m, 31))
        assert s.model.balance()["disbursed_defaulted"] == AMOUNT
        await s.check()
        part = await s.pay(40_000)  # allocated against the defaulted account (spec rule §15 #8)
        assert [a["obligation_status"] for a in part["allocations"]] == ["DEFAULTED"]
        bal = (await s.http.get(f"{API}/credit-facilities/{s.fid}/balance")).json()
        assert (bal["disbursed_defaulted"], bal["overdue_disbursed_outstanding"]) == (AMOUNT - 40_000, 0)
        r = await s.http.post(f"{API}/credit-facilities/{s.fid}/complete")
        assert (r.status_code, r.json()["code"]) == (409, "credit.outstanding_amount"), r.text
        assert f"disbursed_defaulted {AMOUNT - 40_000}" in r.json()["detail"]
        await s.pay(AMOUNT - 40_000)
        await s.advance_to(_day(month_end(s.business_date), 1))
        await s.complete()


async def test_scenario_4_a_disbursal_in_a_later_month(db_url, engine, ts_env):
    policy = {"disbursal_policy": "MultipleDisbursal", "one_time_fee_rate": "0"}
    async with _scenario(db_url, engine, ts_env, policy=policy) as s:
        await s.disburse(50_000)
        ends = _month_ends(s.model)
        await s.advance_to(ends[0])
        await s.pay(s.model.interest_payable())
        await s.advance_to(_day(ends[0], 9))  # the 10th of the next month
        await s.disburse(30_000)
        for d in ends[1:]:
            await s.advance_to(d)
            await s.pay(s.model.interest_payable())
        assert sorted(o.amount for o in s.model.obligations if o.kind == PRINCIPAL) == [30_000, 50_000]
        await _settle_at_maturity(s)


async def test_scenario_5_principal_under_paid(db_url, engine, ts_env):
    async with _scenario(db_url, engine, ts_env, policy=SINGLE) as s:
        await _pay_interest_monthly(s)
        m = s.model.maturity
        await s.advance_to(_day(m, 1))
        short = 10_000
        await s.pay(s.model.balance()["uncovered_outstanding"] - short)
        principal = next(o for o in s.model.obligations if o.kind == PRINCIPAL)
        assert (principal.status, principal.outstanding) == (DUE, short)  # partly paid: keeps its status
        r = await s.http.post(f"{API}/credit-facilities/{s.fid}/complete")
        assert (r.status_code, r.json()["code"]) == (409, "credit.outstanding_amount"), r.text
        assert f"due_disbursed_outstanding {short}" in r.json()["detail"]
        await s.advance_to(_day(m, 51))  # the remainder (only) moves to overdue
        assert (principal.status, s.model.balance()["overdue_disbursed_outstanding"]) == (OVD, short)
        await s.check()
        await s.pay(short)
        await s.advance_to(_day(month_end(s.business_date), 1))
        await s.complete()


async def test_scenario_6_interest_under_paid(db_url, engine, ts_env):
    async with _scenario(db_url, engine, ts_env, policy=SINGLE) as s:
        await _pay_interest_monthly(s, short=100)  # each month 1 $ short
        partly = [o for o in s.model.obligations if o.kind == INTEREST and o.status != "PAID"]
        assert partly and all(o.outstanding == 100 and o.status in (DUE, NYD) for o in partly), partly
        await _settle_at_maturity(s)


def test_the_model_is_what_the_spec_says():
    """The reference model on its own: a month of interest on $1,000 at 12 % is 33 ¢ a day."""
    m = Model(date(2025, 1, 15))
    m.disburse(AMOUNT, date(2025, 1, 15))
    for i in range(17):
        m.end_of_day(_day(date(2025, 1, 15), i))
    [p, i1] = m.obligations
    assert (i1.kind, i1.amount, i1.status, i1.due) == (INTEREST, 17 * 33, DUE, date(2025, 1, 31))
    assert p.status == NYD and m.pay(600) == [(INTEREST, DUE, 561), (PRINCIPAL, NYD, 39)]
