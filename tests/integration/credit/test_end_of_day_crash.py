"""Issue 17: a worker killed in the middle of a real end-of-day run (the real steps, the EndOfDay
workflow, the real ledger), then a new worker: the run completes and the ledger holds exactly what
an uninterrupted run posts (figures computed by hand), each posting once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from sqlalchemy import text

from activities.credit.end_of_day import STEP_FUNCTIONS
from activities.registry import Deps
from domain.credit.end_of_day import Step
from domain.time.end_of_day import EndOfDayInput, RunStatus
from tests.harness import test_settings
from tests.integration.credit.eod_helpers import activated_facility, run_dates
from workers.worker import build_worker
from workflows.end_of_day import EndOfDayWorkflow, end_of_day_workflow_id

JAN15, JAN30, JAN31 = date(2025, 1, 15), date(2025, 1, 30), date(2025, 1, 31)
AMOUNT, DAILY, FACILITIES = 1_000_000, 329, 5  # $10,000 at 12 %: ceil(328.77) ¢ a day
SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0"}


async def test_a_worker_killed_mid_end_of_day_leaves_the_ledger_as_an_uninterrupted_run(
        credit_stack, ts_env, db_url, monkeypatch):
    stack = credit_stack
    fids = [(await activated_facility(stack, JAN15, AMOUNT, **SINGLE))[0] for _ in range(FACILITIES)]
    await run_dates(stack.engine, JAN15, JAN30)  # 16 accruals each, directly

    real = STEP_FUNCTIONS[Step.COMPLETE_CYCLES]
    paused, release, pages = asyncio.Event(), asyncio.Event(), []

    async def gated(engine, day, after, limit):
        page = await real(engine, day, after, limit)  # committed
        pages.append(after)
        if len(pages) == 2 and not release.is_set():
            paused.set()
            await release.wait()  # the worker dies here: the page is committed, its answer lost
        return page

    monkeypatch.setitem(STEP_FUNCTIONS, Step.COMPLETE_CYCLES, gated)
    deps = Deps(engine=stack.engine, settings=test_settings(db_url))
    queue = f"eod-crash-{uuid.uuid4().hex[:8]}"
    async with build_worker(ts_env.client, deps, queue, max_cached_workflows=0):
        handle = await ts_env.client.start_workflow(
            EndOfDayWorkflow.run, EndOfDayInput(business_date=JAN31, page_size=2),
            id=end_of_day_workflow_id(JAN31), task_queue=queue)
        await asyncio.wait_for(paused.wait(), 60)
    release.set()
    async with build_worker(ts_env.client, deps, queue, max_cached_workflows=0):
        summary = await handle.result()
    assert summary.status is RunStatus.COMPLETED, summary
    # the new attempt resumed from the heartbeated cursor (after page 1), not from the start: the
    # rerun of page 2's cursor finds its facilities done and takes the last one
    assert pages[0] is None and pages[1:] == [pages[1], pages[1]], pages

    async with stack.engine.connect() as conn:
        keys = (await conn.execute(text(
            "SELECT split_part(idempotency_key, ':', 1) AS kind, count(*) AS n FROM ledger_transactions"
            " WHERE idempotency_key LIKE 'accrual:%' OR idempotency_key LIKE 'cycle:%' GROUP BY 1"))).all()
        assert {r.kind: r.n for r in keys} == {"accrual": 17 * FACILITIES, "cycle": FACILITIES}
        obligations = (await conn.execute(text(
            "SELECT facility_id::text AS fid, amount_cents FROM credit_obligations"
            " WHERE obligation_type = 'Interest' ORDER BY 1"))).all()
        assert [(r.fid, r.amount_cents) for r in obligations] == [(f, 17 * DAILY) for f in sorted(fids)]
        events = (await conn.execute(text(
            "SELECT kind, count(*) AS n, count(delivered_at) AS delivered FROM end_of_day_events"
            " WHERE business_date = :d GROUP BY kind"), {"d": JAN31})).all()
        assert {r.kind: (r.n, r.delivered) for r in events}["interest_obligation_created"] == (FACILITIES, FACILITIES)
    for fid in fids:
        bal = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
        assert (bal["interest_posted"], bal["interest_accrued"], bal["due_interest_outstanding"]) == (
            17 * DAILY, 0, 17 * DAILY)
