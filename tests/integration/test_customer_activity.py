"""Activity classification: exact 1- and 10-year boundaries under time skipping, paging with
continue-as-new, and the daily Schedule on the dev server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from temporalio.client import ScheduleIntervalSpec, WorkflowExecutionStatus

from activities.customers.tables import customers
from activities.event_store import events
from domain.customers.activity import add_years
from domain.customers.messages import ClassificationInput
from tests.integration.customers_helpers import create_customer, customer_stack
from workers.schedules import ensure_classification_schedule
from workflows.customer_activity import SCHEDULE_ID, CustomerActivityClassificationWorkflow


async def set_last_activity(stack, customer_id: str, at: datetime) -> None:
    async with stack.engine.begin() as conn:
        await conn.execute(update(customers).where(customers.c.id == customer_id).values(last_activity_at=at))


async def activities(stack) -> dict[str, str]:
    async with stack.engine.connect() as conn:
        return {str(r.id): r.activity for r in await conn.execute(select(customers.c.id, customers.c.activity))}


async def run_classification(stack, **kw) -> ClassificationInput:
    return await stack.client.execute_workflow(
        CustomerActivityClassificationWorkflow.run, ClassificationInput(**kw),
        id=f"classify-{uuid.uuid4().hex[:8]}", task_queue=stack.settings.temporal_task_queue,
        # the Java test server may skip to a finished run's stale execution-timeout timer (10 years by
        # default) while the client waits; keep that timer short
        execution_timeout=timedelta(hours=1))


async def skip_to(env, target: datetime) -> None:
    now = await env.get_current_time()
    assert target > now
    await env.sleep(target - now)


async def test_boundaries_at_exactly_one_and_ten_years(db_url, engine, ts_env):
    async with customer_stack(db_url, engine, ts_env.client) as stack:
        now = await ts_env.get_current_time()
        day0 = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        second = timedelta(seconds=1)
        names = ["exactly", "just_after", "just_before"]
        made = {n: (await create_customer(stack.http))["id"] for n in names}
        await set_last_activity(stack, made["exactly"], day0)
        await set_last_activity(stack, made["just_after"], day0 + second)
        await set_last_activity(stack, made["just_before"], day0 - second)

        # a run on the day one year later classifies as of 00:00 that day = day0 + 1 year
        await skip_to(ts_env, add_years(day0, 1) + timedelta(hours=3))
        result = await run_classification(stack)
        assert result.as_of == add_years(day0, 1)
        got = await activities(stack)
        assert got[made["exactly"]] == "Inactive"      # exactly 1 year: no longer Active
        assert got[made["just_after"]] == "Active"     # 1 year minus 1 second
        assert got[made["just_before"]] == "Inactive"

        await skip_to(ts_env, add_years(day0, 10) + timedelta(hours=3))
        result = await run_classification(stack)
        assert result.as_of == add_years(day0, 10)
        got = await activities(stack)
        assert got[made["exactly"]] == "Inactive"      # exactly 10 years: still Inactive
        assert got[made["just_after"]] == "Inactive"
        assert got[made["just_before"]] == "Suspended"  # 10 years and 1 second

        # Suspended is terminal, even if activity were recorded later
        await set_last_activity(stack, made["just_before"], add_years(day0, 10))
        await run_classification(stack)
        assert (await activities(stack))[made["just_before"]] == "Suspended"
        async with stack.engine.connect() as conn:
            kinds = (await conn.execute(select(events.c.payload).where(
                events.c.entity_id == made["just_before"], events.c.event_type == "activity_classified")
                .order_by(events.c.sequence))).scalars().all()
        assert [k["activity"] for k in kinds] == ["Inactive", "Suspended"]
        # the read model's version still matches the event stream (classification fast path)
        for cid in made.values():
            async with stack.engine.connect() as conn:
                version = await conn.scalar(select(customers.c.version).where(customers.c.id == cid))
                seqs = (await conn.execute(select(events.c.sequence).where(events.c.entity_id == cid))).all()
            assert version == len(seqs)


async def test_pages_and_continues_as_new(db_url, engine, ts_env):
    async with customer_stack(db_url, engine, ts_env.client) as stack:
        ids = [(await create_customer(stack.http))["id"] for _ in range(7)]
        now = await ts_env.get_current_time()
        for cid in ids[:5]:
            await set_last_activity(stack, cid, now - timedelta(days=800))
        handle = await stack.client.start_workflow(
            CustomerActivityClassificationWorkflow.run, ClassificationInput(page_size=2, pages_per_run=2),
            id=f"classify-{uuid.uuid4().hex[:8]}", task_queue=stack.settings.temporal_task_queue)
        result = await handle.result()
        assert (result.scanned, result.changed) == (7, 5)
        latest = await handle.describe()  # the handle follows the latest run
        assert latest.run_id != handle.first_execution_run_id  # pages 1-2, 3-4 ran in earlier runs
        first = await stack.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id).describe()
        assert first.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
        got = await activities(stack)
        assert sorted(got[c] for c in ids) == ["Active"] * 2 + ["Inactive"] * 5


async def test_schedule_is_created_once_and_runs(db_url, engine, dev_env):
    async with customer_stack(db_url, engine, dev_env.client) as stack:
        assert await ensure_classification_schedule(stack.client, stack.settings) is True
        assert await ensure_classification_schedule(stack.client, stack.settings) is False  # idempotent
        handle = stack.client.get_schedule_handle(SCHEDULE_ID)
        desc = await handle.describe()
        assert desc.schedule.spec.intervals == [ScheduleIntervalSpec(every=timedelta(days=1),
                                                                     offset=timedelta(minutes=5))]
        assert desc.schedule.action.workflow == "CustomerActivityClassificationWorkflow"

        c = await create_customer(stack.http)
        await set_last_activity(stack, c["id"], datetime.now(tz=desc.info.created_at.tzinfo) - timedelta(days=400))
        await handle.trigger()
        for _ in range(100):
            desc = await handle.describe()
            if desc.info.recent_actions:
                break
            await asyncio.sleep(0.1)
        started = desc.info.recent_actions[-1].action
        await stack.client.get_workflow_handle(started.workflow_id, run_id=started.first_execution_run_id).result()
        assert (await activities(stack))[c["id"]] == "Inactive"
