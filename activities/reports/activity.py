"""The ReportRun workflow's activities: start a run, generate one definition's files, finish the
run, and queue the scheduled run of the last closed business date."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.boundary import lana_activity
from activities.reports import operations
from activities.storage import DocumentStorage, build_storage
from activities.time import clock
from domain.reports.run import (
    FinishRunInput,
    GenerateInput,
    GenerateResult,
    RunState,
    RunSummary,
    ScheduledRunInput,
    ScheduledRunPlan,
    StartRunInput,
    scheduled_definitions,
)
from ground.settings import Settings


class ReportActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings, storage: DocumentStorage | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self._storage = storage

    @property
    def storage(self) -> DocumentStorage:
        if self._storage is None:
            self._storage = build_storage(self.settings)
        return self._storage

    @lana_activity("report.start_run")
    async def start_run(self, inp: StartRunInput) -> None:
        await operations.start(self.engine, inp.run_id, inp.at)

    @lana_activity("report.generate")
    async def generate(self, inp: GenerateInput) -> GenerateResult:
        return await operations.generate(self.engine, self.storage, inp.run_id, inp.definition_id, inp.as_of_date,
                                         inp.report_date, on_progress=lambda n: activity.heartbeat(n))

    @lana_activity("report.finish_run")
    async def finish_run(self, inp: FinishRunInput) -> RunSummary:
        return await operations.finish(self.engine, inp.run_id, inp.at, inp.failures)

    @lana_activity("report.plan_scheduled")
    async def plan_scheduled(self, inp: ScheduledRunInput) -> ScheduledRunPlan | None:
        """The run of ``inp.day`` (default: the last completed end of day, else the last closed
        business date), queued once; None before any date has closed."""
        day = inp.day
        if day is None:
            async with self.engine.begin() as conn:
                day = await clock.last_completed(conn)
                if day is None:
                    instant, today = await clock.business_now(conn, self.settings, inp.now)
                    day = clock.calendar_of(self.settings).last_closed(instant)
        run = await operations.queue_scheduled(self.engine, day)
        return ScheduledRunPlan(run_id=run.id, definition_ids=[d.definition_id for d in scheduled_definitions()],
                                as_of_date=day, already_finished=run.state in (RunState.SUCCESS, RunState.FAILED))
