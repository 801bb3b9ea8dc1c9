"""EndOfDay: one business date's batch run (credit.md §12.1), and the producer that starts it.

``EndOfDayWorkflow(D)`` (id ``end-of-day-{D}``) runs the credit steps in ``STEPS`` order, each as
one heartbeating activity that pages through the whole step (``activities/time/activity.py``) and
signals the facility events of each committed page. An entity's failure is listed and the run goes
on; a step refused as a whole (not retried) is listed too, and the next steps still run. The run
ends ``COMPLETED`` or ``COMPLETED_WITH_FAILURES`` and records the date in ``end_of_day_runs``.
Progress is the ``progress`` query, the ``LanaStatus`` / ``LanaStep`` search attributes and the
current details (a table of steps) in the Temporal UI; inside a running step, the activity's
heartbeat (cursor and totals) shows under its pending activity.

``EndOfDayProducerWorkflow``, started by the ``end-of-day`` schedule (real clock), asks which dates
have closed since the last completed one and runs ``EndOfDay`` for each, one by one, oldest first,
as children with the date's id: ``ALLOW_DUPLICATE_FAILED_ONLY``, so a completed date never runs
again from here (a failed or terminated one may). A date already running elsewhere (an advance of
the simulated clock, or an abandoned child of an earlier producer) is left to that run: this
producer stops, and the next tick goes on after it.
"""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.boundary import ACTIVITY_OPTIONS, refusal_of
    from activities.time.activity import EndOfDayActivities
    from domain.credit.end_of_day import STEPS, StepFailure
    from domain.time.end_of_day import (
        DATES_PER_RUN,
        DatesToCloseInput,
        EndOfDayInput,
        EndOfDaySummary,
        ProducerInput,
        ProducerResult,
        RunStatus,
        StepInput,
        StepResult,
    )
    from workflows.search_attributes import LANA_ENTITY_ID, LANA_PROCESS_TYPE, LANA_STATUS, LANA_STEP

SCHEDULE_ID = "end-of-day"
# A step may take long (every facility of the bank) but heartbeats after every page: a silent
# worker is noticed within the heartbeat timeout and the step resumes elsewhere from its cursor.
STEP_OPTIONS = {
    "start_to_close_timeout": timedelta(hours=12),
    "heartbeat_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                maximum_interval=timedelta(minutes=1)),
}


def end_of_day_workflow_id(day: date) -> str:
    return f"end-of-day-{day.isoformat()}"


@workflow.defn
class EndOfDayWorkflow:
    @workflow.init
    def __init__(self, inp: EndOfDayInput) -> None:
        self.summary = EndOfDaySummary(business_date=inp.business_date)

    @workflow.run
    async def run(self, inp: EndOfDayInput) -> EndOfDaySummary:
        self.summary.started_at = workflow.now()
        workflow.upsert_search_attributes([LANA_PROCESS_TYPE.value_set("end-of-day"),
                                           LANA_ENTITY_ID.value_set(inp.business_date.isoformat())])
        for step in STEPS:
            self.summary.current_step = step
            self._publish()
            try:
                result: StepResult = await workflow.execute_activity_method(
                    EndOfDayActivities.run_step,
                    StepInput(step=step, business_date=inp.business_date, page_size=inp.page_size), **STEP_OPTIONS)
            except ActivityError as exc:
                refusal = refusal_of(exc)
                if refusal is None:
                    raise
                workflow.logger.error("end-of-day step %s refused: %s %s", step.value, refusal.type, refusal.message)
                result = StepResult(step=step)
                result.refused(StepFailure(entity_id="*", code=refusal.type or "refused", message=refusal.message))
            self.summary.steps.append(result)
        self.summary.current_step = None
        self.summary.status = RunStatus.COMPLETED_WITH_FAILURES if self.summary.failed else RunStatus.COMPLETED
        self.summary.completed_at = workflow.now()
        await workflow.execute_activity_method(EndOfDayActivities.record_completion, self.summary, **ACTIVITY_OPTIONS)
        self._publish()
        return self.summary

    @workflow.query
    def progress(self) -> EndOfDaySummary:
        return self.summary

    def _publish(self) -> None:
        s = self.summary
        step = s.current_step.value if s.current_step else "-"
        workflow.upsert_search_attributes([LANA_STATUS.value_set(s.status.value), LANA_STEP.value_set(step)])
        lines = [f"**end of day {s.business_date.isoformat()}**: {s.status.value}, step {step}", "",
                 "| step | pages | processed | failed | events | signalled |", "|---|---|---|---|---|---|"]
        lines += [f"| {r.step.value} | {r.pages} | {r.processed} | {r.failed} | {r.events} | {r.signalled} |"
                  for r in s.steps]
        failures = [f"- {r.step.value} {f.entity_id}: {f.code} {f.message}" for r in s.steps for f in r.failures]
        if failures:
            lines += ["", "failures (first of each step):", *failures[:20]]
        workflow.set_current_details("\n".join(lines))


@workflow.defn
class EndOfDayProducerWorkflow:
    @workflow.init
    def __init__(self, inp: ProducerInput) -> None:
        self.result = ProducerResult(dates_run=list(inp.dates_run))

    @workflow.run
    async def run(self, inp: ProducerInput) -> ProducerResult:
        workflow.upsert_search_attributes([LANA_PROCESS_TYPE.value_set("end-of-day-producer")])
        due: list[date] = await workflow.execute_activity_method(
            EndOfDayActivities.dates_to_close, DatesToCloseInput(now=workflow.now()), **ACTIVITY_OPTIONS)
        for day in due:
            try:
                await workflow.execute_child_workflow(
                    EndOfDayWorkflow.run, EndOfDayInput(business_date=day, page_size=inp.page_size),
                    id=end_of_day_workflow_id(day), id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON)
            except WorkflowAlreadyStartedError:
                workflow.logger.info("end of day %s is already running elsewhere; left to that run", day)
                self.result.busy = day
                return self.result
            self.result.dates_run.append(day)
        if len(due) == DATES_PER_RUN:  # a long catch-up: go on in a fresh history
            workflow.continue_as_new(ProducerInput(page_size=inp.page_size, dates_run=self.result.dates_run))
        return self.result


async def start_end_of_day(client, task_queue: str, day: date, *, page_size: int = 500):
    """Start the date's run, or reach the one already running or completed (never a second run of a
    completed date); returns its handle."""
    wid = end_of_day_workflow_id(day)
    try:
        return await client.start_workflow(
            EndOfDayWorkflow.run, EndOfDayInput(business_date=day, page_size=page_size), id=wid,
            task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY)
    except WorkflowAlreadyStartedError:  # completed before: its result is the date's summary
        return client.get_workflow_handle_for(EndOfDayWorkflow.run, wid)
