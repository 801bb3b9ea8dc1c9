"""The EndOfDay process on the time-skipping server with fake steps (tests/integration/time/eod_fakes.py):
order of steps, paging, failures, facility events, catch-up of missed dates, one run per date,
progress, and a worker that stops in the middle of a step."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus

from activities.credit.end_of_day import STEP_FUNCTIONS
from activities.registry import Deps
from activities.time import clock
from domain.credit.end_of_day import STEPS, FacilityEventKind, Step
from domain.time.end_of_day import EndOfDayInput, EndOfDaySummary, ProducerInput, RunStatus
from tests.harness import test_settings
from tests.integration.time.eod_fakes import FakeFacilityWorkflow, FakeSteps, Gate
from workers.worker import build_worker
from workflows.end_of_day import (
    EndOfDayProducerWorkflow,
    EndOfDayWorkflow,
    end_of_day_workflow_id,
    start_end_of_day,
)
from workflows.search_attributes import LANA_STATUS, LANA_STEP

DAY = date(2026, 3, 2)


@pytest.fixture
async def steps(engine, monkeypatch):
    fake = FakeSteps(engine)
    for step in Step:
        monkeypatch.setitem(STEP_FUNCTIONS, step, None)
    fake.register(STEP_FUNCTIONS)
    return fake


@pytest.fixture
async def eod(db_url, engine, ts_env, steps):
    """A worker with the production workflows and activities (fake steps), and a stand-in facility."""
    settings = test_settings(db_url)
    deps = Deps(engine=engine, settings=settings)

    def worker(task_queue: str = settings.temporal_task_queue, **kw):
        return build_worker(ts_env.client, deps, task_queue, extra_workflows=[FakeFacilityWorkflow], **kw)

    async with worker():
        yield ts_env.client, settings.temporal_task_queue, steps, worker


async def _run(client, queue, day=DAY, page_size=2, wid=None) -> EndOfDaySummary:
    return await client.execute_workflow(EndOfDayWorkflow.run, EndOfDayInput(business_date=day, page_size=page_size),
                                         id=wid or end_of_day_workflow_id(day), task_queue=queue)


async def test_steps_run_in_order_each_paged_with_its_cursor(eod, engine):
    client, queue, steps, _ = eod
    for step in STEPS:
        await steps.create(step, [f"{step.value}-{i}" for i in range(5)])
    summary = await _run(client, queue)
    # each step three pages of two (the last short), in STEPS order, each after the previous cursor
    assert steps.calls == [(step, DAY, after) for step in STEPS
                           for after in (None, f"{step.value}-1", f"{step.value}-3")]
    assert summary.status is RunStatus.COMPLETED
    assert [(r.step, r.pages, r.processed, r.failed) for r in summary.steps] == [(s, 3, 5, 0) for s in STEPS]
    assert set((await steps.effects()).values()) == {1}
    async with engine.connect() as conn:
        assert await clock.last_completed(conn) == DAY
        assert (await clock.completed(conn, [DAY]))[DAY].processed == 20
    desc = await client.get_workflow_handle(end_of_day_workflow_id(DAY)).describe()
    assert desc.typed_search_attributes[LANA_STATUS] == "COMPLETED"
    assert desc.typed_search_attributes[LANA_STEP] == "-"


async def test_a_failing_entity_is_listed_the_rest_processed_and_it_is_retried_next_day(eod):
    client, queue, steps, _ = eod
    await steps.create(Step.OBLIGATION_TRANSITIONS, ["o1", "o2", "o3", "o4", "o5"])
    steps.failing = {"o3"}
    summary = await _run(client, queue)
    assert summary.status is RunStatus.COMPLETED_WITH_FAILURES
    result = next(r for r in summary.steps if r.step is Step.OBLIGATION_TRANSITIONS)
    assert (result.processed, result.failed, [f.entity_id for f in result.failures]) == (4, 1, ["o3"])
    assert [r.step for r in summary.steps] == list(STEPS)  # the later step ran too
    assert await steps.effects() == {"o1": 1, "o2": 1, "o3": 0, "o4": 1, "o5": 1}
    steps.failing = set()
    following = await _run(client, queue, DAY + timedelta(days=1))
    assert following.status is RunStatus.COMPLETED and following.processed == 5  # the day's four, and o3
    assert await steps.effects() == {"o1": 2, "o2": 2, "o3": 1, "o4": 2, "o5": 2}


async def test_facility_events_are_signalled_after_their_page_and_a_missing_workflow_is_no_error(eod):
    client, queue, steps, _ = eod
    facility = client.get_workflow_handle("credit-facility-f1")
    await client.start_workflow(FakeFacilityWorkflow.run, id=facility.id, task_queue=queue)
    await steps.create(Step.MATURE_FACILITIES, ["m1"], facility="f1")
    await steps.create(Step.OBLIGATION_TRANSITIONS, ["o1"], facility="gone")
    steps.emitting = {"m1": FacilityEventKind.MATURED, "o1": FacilityEventKind.OBLIGATION_DUE}
    summary = await _run(client, queue)
    by_step = {r.step: r for r in summary.steps}
    assert (by_step[Step.MATURE_FACILITIES].events, by_step[Step.MATURE_FACILITIES].signalled) == (1, 1)
    assert (by_step[Step.OBLIGATION_TRANSITIONS].signalled, by_step[Step.OBLIGATION_TRANSITIONS].not_delivered) == (0, 1)
    heard = await facility.query(FakeFacilityWorkflow.heard)
    assert [(e.kind, e.business_date, e.detail) for e in heard] == [(FacilityEventKind.MATURED, DAY, {"item": "m1"})]
    assert summary.status is RunStatus.COMPLETED


async def test_a_missed_week_is_caught_up_in_order_and_each_date_runs_once(eod, engine, ts_env):
    # The producer reads Temporal's clock as "today": no automatic time skipping here (while the
    # test waits on a result, the test server would jump to the next timer, days or years ahead).
    with ts_env.auto_time_skipping_disabled():
        client, queue, steps, _ = eod
        today = datetime.now(UTC).date()  # the test server's clock starts at the wall clock
        async with engine.begin() as conn:
            await clock.record_completion(conn, EndOfDaySummary(business_date=today - timedelta(days=8),
                                                                status=RunStatus.COMPLETED))
        result = await client.execute_workflow(EndOfDayProducerWorkflow.run, ProducerInput(page_size=2),
                                               id=f"producer-{uuid.uuid4().hex[:6]}", task_queue=queue)
        week = [today - timedelta(days=d) for d in range(7, 0, -1)]
        assert result.dates_run == week and result.busy is None
        assert [d for s, d, _ in steps.calls if s is STEPS[0]] == week  # one run per date, oldest first
        again = await client.execute_workflow(EndOfDayProducerWorkflow.run, ProducerInput(),
                                              id=f"producer-{uuid.uuid4().hex[:6]}", task_queue=queue)
        assert again.dates_run == []
        async with engine.connect() as conn:
            assert await clock.last_completed(conn) == today - timedelta(days=1)
            assert [await clock.runs_of(conn, d) for d in week] == [1] * 7


async def test_a_completed_date_is_not_run_again_and_an_explicit_rerun_changes_nothing(eod, engine):
    client, queue, steps, _ = eod
    await steps.create(Step.ACCRUE_INTEREST, ["a1", "a2", "a3"])
    first = await (await start_end_of_day(client, queue, DAY, page_size=2)).result()
    calls = len(steps.calls)
    second = await (await start_end_of_day(client, queue, DAY, page_size=2)).result()  # reaches the completed run
    assert second == first and len(steps.calls) == calls
    rerun = await _run(client, queue, wid=f"end-of-day-{DAY}-rerun")  # an operator's explicit rerun
    assert rerun.processed == 0 and rerun.status is RunStatus.COMPLETED
    assert await steps.effects() == {"a1": 1, "a2": 1, "a3": 1}
    async with engine.connect() as conn:
        assert await clock.runs_of(conn, DAY) == 2


async def test_progress_is_queryable_while_a_step_runs(eod):
    client, queue, steps, _ = eod
    await steps.create(Step.ACCRUE_INTEREST, ["a1"])
    await steps.create(Step.COMPLETE_CYCLES, ["c1", "c2", "c3"])
    steps.gate = Gate(Step.COMPLETE_CYCLES, after_page=1)
    handle = await client.start_workflow(EndOfDayWorkflow.run, EndOfDayInput(business_date=DAY, page_size=2),
                                         id=end_of_day_workflow_id(DAY), task_queue=queue)
    await asyncio.wait_for(steps.gate.paused.wait(), 30)
    progress = await handle.query(EndOfDayWorkflow.progress)
    assert (progress.status, progress.current_step) == (RunStatus.RUNNING, Step.COMPLETE_CYCLES)
    assert [(r.step, r.processed) for r in progress.steps] == [(Step.ACCRUE_INTEREST, 1)]
    desc = await handle.describe()
    assert (desc.typed_search_attributes[LANA_STATUS], desc.typed_search_attributes[LANA_STEP]) == (
        "RUNNING", "complete_cycles")
    steps.gate.release.set()
    done = await handle.result()
    assert (await handle.query(EndOfDayWorkflow.progress)) == done
    assert next(r for r in done.steps if r.step is Step.COMPLETE_CYCLES).processed == 3


async def test_a_worker_stopped_mid_step_resumes_from_its_heartbeat_and_each_page_takes_effect_once(eod):
    """The step pauses after its third page committed (its answer not yet heartbeated); the worker
    stops; a new one (no workflow cache: state rebuilt by replay) resumes the step from the last
    heartbeat, not from the start, and every row is processed exactly once by effect."""
    client, _, steps, worker = eod
    await steps.create(Step.ACCRUE_INTEREST, [f"a{i:02d}" for i in range(10)])
    steps.gate = Gate(Step.ACCRUE_INTEREST, after_page=3)
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    async with worker(task_queue=queue, max_cached_workflows=0):
        handle = await client.start_workflow(EndOfDayWorkflow.run, EndOfDayInput(business_date=DAY, page_size=2),
                                             id=end_of_day_workflow_id(DAY), task_queue=queue)
        await asyncio.wait_for(steps.gate.paused.wait(), 30)
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    before = len(steps.calls)
    assert [a for _, _, a in steps.calls] == [None, "a01", "a03"]
    steps.gate = None
    async with worker(task_queue=queue, max_cached_workflows=0):
        summary = await handle.result()
    resumed = [a for s, _, a in steps.calls[before:] if s is Step.ACCRUE_INTEREST]
    assert resumed[0] in ("a01", "a03")  # from a heartbeated cursor, not from the start
    assert await steps.effects() == {f"a{i:02d}": 1 for i in range(10)}
    accrual = summary.steps[0]
    # the totals are those of the heartbeated pages and the new attempt's: the rows of a page whose
    # answer was lost are processed (above) but not counted
    assert (accrual.step, summary.status) == (Step.ACCRUE_INTEREST, RunStatus.COMPLETED)
    assert accrual.processed == {"a03": 8, "a01": 6}[resumed[0]]


async def test_events_of_a_page_committed_before_the_worker_stopped_are_still_signalled(eod, engine):
    """The page with the facility's event commits, then the worker stops before it signals: the event
    waits in the outbox (end_of_day_events), and the resumed step sends it, once it is marked."""
    from sqlalchemy import text

    client, queue, steps, worker = eod
    facility = client.get_workflow_handle("credit-facility-f9")
    await steps.create(Step.MATURE_FACILITIES, ["m1", "m2", "m3"], facility="f9")
    steps.emitting = {"m1": FacilityEventKind.MATURED}
    steps.gate = Gate(Step.MATURE_FACILITIES, after_page=1)
    crash_queue = f"crash-{uuid.uuid4().hex[:8]}"
    await client.start_workflow(FakeFacilityWorkflow.run, id=facility.id, task_queue=queue)
    async with worker(task_queue=crash_queue, max_cached_workflows=0):
        handle = await client.start_workflow(EndOfDayWorkflow.run, EndOfDayInput(business_date=DAY, page_size=2),
                                             id=end_of_day_workflow_id(DAY), task_queue=crash_queue)
        await asyncio.wait_for(steps.gate.paused.wait(), 30)
    assert await facility.query(FakeFacilityWorkflow.heard) == []  # committed, never signalled
    steps.gate = None
    async with worker(task_queue=crash_queue, max_cached_workflows=0):
        summary = await handle.result()
    heard = await facility.query(FakeFacilityWorkflow.heard)
    assert [(e.kind, e.detail) for e in heard] == [(FacilityEventKind.MATURED, {"item": "m1"})]
    assert next(r for r in summary.steps if r.step is Step.MATURE_FACILITIES).signalled == 1
    async with engine.connect() as conn:
        assert (await conn.execute(text(
            "SELECT count(*) FROM end_of_day_events WHERE delivered_at IS NULL"))).scalar_one() == 0


async def test_a_step_refused_as_a_whole_is_listed_and_the_next_steps_run(eod, monkeypatch):
    from domain.errors import LanaError

    client, queue, steps, _ = eod
    await steps.create(Step.MATURE_FACILITIES, ["m1"])

    async def refused(engine, day, after, limit):
        raise LanaError("the step cannot run for this date", code="credit.test_refusal")

    monkeypatch.setitem(STEP_FUNCTIONS, Step.COMPLETE_CYCLES, refused)
    summary = await _run(client, queue)
    cycles = next(r for r in summary.steps if r.step is Step.COMPLETE_CYCLES)
    assert [(f.entity_id, f.code) for f in cycles.failures] == [("*", "credit.test_refusal")]
    assert summary.status is RunStatus.COMPLETED_WITH_FAILURES
    assert summary.steps[-1].processed == 1  # maturity still ran


async def test_the_producer_leaves_a_date_running_elsewhere_to_that_run(eod, engine, ts_env):
    # The producer reads Temporal's clock as "today": no automatic time skipping here (while the
    # test waits on a result, the test server would jump to the next timer, days or years ahead).
    with ts_env.auto_time_skipping_disabled():
        client, queue, steps, _ = eod
        today = datetime.now(UTC).date()
        busy = today - timedelta(days=2)
        async with engine.begin() as conn:
            await clock.record_completion(conn, EndOfDaySummary(business_date=busy - timedelta(days=1),
                                                                status=RunStatus.COMPLETED))
        await steps.create(Step.ACCRUE_INTEREST, ["a1"])
        steps.gate = Gate(Step.ACCRUE_INTEREST, after_page=1)
        running = await start_end_of_day(client, queue, busy)  # e.g. an operator's advance
        await asyncio.wait_for(steps.gate.paused.wait(), 30)
        result = await client.execute_workflow(EndOfDayProducerWorkflow.run, ProducerInput(),
                                               id=f"producer-{uuid.uuid4().hex[:6]}", task_queue=queue)
        assert (result.dates_run, result.busy) == ([], busy)
        steps.gate.release.set()
        assert (await running.result()).status is RunStatus.COMPLETED
        result = await client.execute_workflow(EndOfDayProducerWorkflow.run, ProducerInput(),
                                               id=f"producer-{uuid.uuid4().hex[:6]}", task_queue=queue)
        assert result.dates_run == [today - timedelta(days=1)]
