"""The daily report schedule on the Temporal dev server (the test server has no schedules): created
once (then updated in place), daily after the closing time in the business time zone; a trigger
runs the catalogue for the last closed date, and a second trigger of the same date makes no
second run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from activities.reports import store
from domain.reports.run import scheduled_definitions
from tests.harness import Stack
from workers.schedules import ensure_reports_schedule
from workflows.report_run import SCHEDULE_ID


async def _runs(engine) -> list[dict]:
    async with engine.connect() as conn:
        return await store.recent_runs(conn, 10)


async def test_the_schedule_runs_the_catalogue_once_per_closed_date(db_url, engine, dev_env, tmp_path):
    async with Stack.start(db_url, engine, dev_env.client, documents_dir=tmp_path, business_timezone="America/El_Salvador",
                           business_closing_time=time(23, 30), reports_delay_minutes=45) as stack:
        assert await ensure_reports_schedule(stack.client, stack.settings) is True
        assert await ensure_reports_schedule(stack.client, stack.settings) is False  # idempotent
        handle = stack.client.get_schedule_handle(SCHEDULE_ID)
        desc = await handle.describe()
        [cal] = desc.schedule.spec.calendars
        assert ([r.start for r in cal.hour], [r.start for r in cal.minute]) == ([0], [15])  # 23:30 + 45 min
        assert desc.schedule.spec.time_zone_name == "America/El_Salvador"
        assert desc.schedule.action.workflow == "ScheduledReportsWorkflow"

        await handle.trigger()
        for _ in range(600):
            runs = await _runs(engine)
            if runs and runs[0]["state"] in ("SUCCESS", "FAILED"):
                break
            await asyncio.sleep(0.1)
        [run] = runs
        assert (run["state"], run["run_type"], run["definition_id"]) == ("SUCCESS", "SCHEDULED", None)
        assert len(run["reports"]) == len(scheduled_definitions())
        assert all(f["path_in_bucket"].startswith(f"reports/{run['id']}/") for r in run["reports"] for f in r["files"])
        # the last closed business date in San Salvador (no end of day has completed in this bank)
        local = datetime.now(UTC) - timedelta(hours=6)
        closed = (local + timedelta(minutes=30)).date() - timedelta(days=1)
        assert run["as_of_date"] == closed

        # the schedule skips a tick while its previous action still runs (overlap SKIP): the run row can
        # be finished a moment before the workflow that queued it has closed
        first = stack.client.get_workflow_handle((await handle.describe()).info.recent_actions[0].action.workflow_id)
        await first.result()
        await handle.trigger()  # the same date again: the run exists and is finished
        for _ in range(200):
            actions = (await handle.describe()).info.recent_actions
            if len(actions) == 2:
                break
            await asyncio.sleep(0.1)
        second = stack.client.get_workflow_handle(actions[-1].action.workflow_id)
        assert await second.result() is None  # it started nothing
        assert [r["id"] for r in await _runs(engine)] == [run["id"]]
