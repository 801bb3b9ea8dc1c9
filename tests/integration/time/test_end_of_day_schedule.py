"""The end-of-day schedule on the Temporal dev server (the test server has no schedules)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from activities.time import clock
from tests.harness import Stack
from workers.schedules import ensure_end_of_day_schedule
from workflows.end_of_day import SCHEDULE_ID


async def test_the_schedule_runs_the_producer_on_a_real_clock_and_is_paused_on_a_simulated_one(db_url, engine, dev_env):
    async with Stack.start(db_url, engine, dev_env.client, end_of_day_poll_seconds=600) as stack:
        assert await ensure_end_of_day_schedule(stack.client, stack.settings) is True
        assert await ensure_end_of_day_schedule(stack.client, stack.settings) is False  # idempotent
        handle = stack.client.get_schedule_handle(SCHEDULE_ID)
        desc = await handle.describe()
        assert desc.schedule.spec.intervals[0].every == timedelta(minutes=10)
        assert (desc.schedule.action.workflow, desc.schedule.state.paused) == ("EndOfDayProducerWorkflow", False)
        await handle.trigger()
        for _ in range(200):  # a new bank: the producer runs the last closed date
            async with engine.connect() as conn:
                if await clock.last_completed(conn) is not None:
                    break
            await asyncio.sleep(0.1)
        async with engine.connect() as conn:
            assert await clock.last_completed(conn) == datetime.now(UTC).date() - timedelta(days=1)
        simulated = stack.settings.model_copy(update={"clock_mode": "simulated"})
        assert await ensure_end_of_day_schedule(stack.client, simulated) is False
        state = (await handle.describe()).schedule.state
        assert state.paused and "simulated" in state.note
