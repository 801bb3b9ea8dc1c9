"""GET /time and POST /time/advance-to-next-end-of-day through the API with a worker (fake steps)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from activities.credit.end_of_day import STEP_FUNCTIONS
from domain.credit.end_of_day import STEPS, Step
from tests.harness import Stack
from tests.integration.time.eod_fakes import FakeSteps

API = "/api/v1"
ADVANCE = f"{API}/time/advance-to-next-end-of-day"


@pytest.fixture
async def steps(engine, monkeypatch):
    fake = FakeSteps(engine)
    for step in Step:
        monkeypatch.setitem(STEP_FUNCTIONS, step, None)
    fake.register(STEP_FUNCTIONS)
    await fake.create(Step.ACCRUE_INTEREST, ["a1", "a2", "a3"])
    return fake


@pytest.fixture
async def sim(db_url, engine, ts_env, steps):
    async with Stack.start(db_url, engine, ts_env.client, clock_mode="simulated", business_timezone="Asia/Tokyo",
                           business_closing_time="17:00", end_of_day_page_size=2) as stack:
        yield stack


async def test_a_real_clock_answers_the_time_and_refuses_to_advance(stack):
    before = datetime.now().astimezone()
    r = await stack.http.get(f"{API}/time")
    assert r.status_code == 200, r.text
    body = r.json()
    now = datetime.fromisoformat(body["now"])
    assert before <= now <= datetime.now().astimezone()
    assert (body["timezone"], body["closing_time"], body["clock"], body["can_advance"]) == ("UTC", "00:00", "REAL", False)
    assert body["business_date"] == now.date().isoformat()
    assert datetime.fromisoformat(body["next_end_of_day"]) == datetime.combine(
        now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
    r = await stack.http.post(ADVANCE)
    assert (r.status_code, r.headers["content-type"], r.json()["code"]) == (
        409, "application/problem+json", "time.clock_not_advanceable")
    assert (await stack.http.get(f"{API}/time")).json()["business_date"] == body["business_date"]


async def test_advancing_runs_each_closed_date_in_order_and_answers_their_summaries(sim, steps):
    start = (await sim.http.get(f"{API}/time")).json()
    assert (start["clock"], start["can_advance"], start["closing_time"]) == ("SIMULATED", True, "17:00")
    today = date.fromisoformat(start["business_date"])
    assert start["last_completed_end_of_day"] is None
    first = (await sim.http.post(ADVANCE)).json()["end_of_days"]  # a new bank runs the last closed date first
    assert [e["business_date"] for e in first] == [(today - timedelta(days=1)).isoformat(), today.isoformat()]
    today += timedelta(days=1)
    r = await sim.http.post(ADVANCE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [e["business_date"] for e in body["end_of_days"]] == [today.isoformat()]
    (run,) = body["end_of_days"]
    assert (run["status"], run["processed"], run["steps"][0]["step"], run["steps"][0]["pages"]) == (
        "COMPLETED", 3, "ACCRUE_INTEREST", 2)
    closing = datetime.fromisoformat(start["next_end_of_day"]) + timedelta(days=1)  # no DST in Tokyo
    assert datetime.fromisoformat(body["time"]["now"]) == closing  # exactly the closing instant
    assert body["time"]["business_date"] == (today + timedelta(days=1)).isoformat()
    assert body["time"]["last_completed_end_of_day"] == today.isoformat()
    r = await sim.http.post(ADVANCE, json={"days": 3})
    assert [e["business_date"] for e in r.json()["end_of_days"]] == [
        (today + timedelta(days=i)).isoformat() for i in (1, 2, 3)]
    assert [d for s, d, after in steps.calls if s is STEPS[0] and after is None] == [
        today + timedelta(days=i) for i in range(-2, 4)]
    assert set((await steps.effects()).values()) == {6}  # once per date
    assert (await sim.http.get(f"{API}/time")).json()["business_date"] == (today + timedelta(days=4)).isoformat()


@pytest.mark.parametrize("body", [{"days": 0}, {"days": 367}, {"days": "many"}, {"days": 1.5}])
async def test_a_bad_number_of_days_is_422(sim, body):
    r = await sim.http.post(ADVANCE, json=body)
    assert (r.status_code, r.json()["code"]) == (422, "common.validation_failed")


async def test_a_retried_request_does_not_advance_twice(sim):
    assert (await sim.http.post(ADVANCE)).status_code == 200  # past a new bank's first (extra) date
    headers = {"Idempotency-Key": "advance-1"}
    first = await sim.http.post(ADVANCE, json={"days": 2}, headers=headers)
    assert first.status_code == 200, first.text
    replay = await sim.http.post(ADVANCE, json={"days": 2}, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true" and replay.json() == first.json()
    # the stored response lost (as after a 503, which releases the key): the request's target holds
    async with sim.engine.begin() as conn:
        await conn.execute(text("DELETE FROM api_idempotency WHERE key = 'advance-1'"))
    again = await sim.http.post(ADVANCE, json={"days": 2}, headers=headers)
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") is None
    assert again.json()["end_of_days"] == first.json()["end_of_days"] and len(first.json()["end_of_days"]) == 2
    assert again.json()["time"]["business_date"] == first.json()["time"]["business_date"]


async def test_permissions_and_audit(sim):
    viewer = await sim.client_for("accountant@lana.test", "accountant")  # no exposed-config permission sets
    assert (await viewer.get(f"{API}/time")).status_code == 403
    assert (await viewer.post(ADVANCE)).status_code == 403
    admin = await sim.client_for("admin@lana.test", "admin")
    assert (await admin.get(f"{API}/time")).status_code == 200
    assert (await admin.post(ADVANCE)).status_code == 200
    entries = (await sim.http.get(f"{API}/audit-entries", params={"first": 100})).json()["items"]
    decisions = {(e["action"], e["authorized"]) for e in entries if e["object"] == "domain-config/exposed-config/*"}
    assert decisions == {("domain-config:exposed-config:read", True), ("domain-config:exposed-config:read", False),
                         ("domain-config:exposed-config:write", True), ("domain-config:exposed-config:write", False)}
