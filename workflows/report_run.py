"""ReportRun: one report run (custody-price-reports.md §4), one activity per definition.

``ReportRunWorkflow`` (id ``report-run-{run id}``) marks the run RUNNING, generates each
definition's files in turn (``report.generate``: streamed from the database to a temporary file,
then uploaded to document storage) and marks it SUCCESS, or FAILED when a definition failed: the
failed definition keeps its error text, the others' files stay published. A definition is a
refusal (not retried) or is retried a few times for an unexpected error, then counted as failed.

``ScheduledReportsWorkflow`` is the daily schedule's action: it queues the run of the last
closed business date (``scheduled:<date>``, one run per date whatever the number of ticks) and
runs it as a child with the run's id; a date already finished, or running elsewhere, is left alone.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.boundary import ACTIVITY_OPTIONS
    from activities.reports.activity import ReportActivities
    from domain.reports.run import (
        FinishRunInput,
        GenerateInput,
        GenerateResult,
        ReportRunInput,
        RunState,
        RunSummary,
        ScheduledRunInput,
        ScheduledRunPlan,
        StartRunInput,
    )
    from workflows.search_attributes import LANA_ENTITY_ID, LANA_PROCESS_TYPE, LANA_STATUS, LANA_STEP

SCHEDULE_ID = "report-runs"
GENERATE_OPTIONS = {
    "start_to_close_timeout": timedelta(hours=2),
    "heartbeat_timeout": timedelta(minutes=5),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                                maximum_interval=timedelta(minutes=1), maximum_attempts=3),
}


def report_run_workflow_id(run_id: str) -> str:
    return f"report-run-{run_id}"


def _error_text(exc: ActivityError) -> str:
    cause = exc.cause
    while cause is not None and getattr(cause, "cause", None) is not None and not getattr(cause, "type", None):
        cause = cause.cause
    code = getattr(cause, "type", None)
    message = getattr(cause, "message", None) or str(cause or exc)
    return f"{code}: {message}" if code else message


@workflow.defn
class ReportRunWorkflow:
    @workflow.init
    def __init__(self, inp: ReportRunInput) -> None:
        self.state = RunState.QUEUED
        self.produced: list[str] = []
        self.failures: dict[str, str] = {}

    @workflow.run
    async def run(self, inp: ReportRunInput) -> RunSummary:
        workflow.upsert_search_attributes([LANA_PROCESS_TYPE.value_set("report-run"),
                                           LANA_ENTITY_ID.value_set(inp.run_id)])
        await workflow.execute_activity_method(ReportActivities.start_run,
                                               StartRunInput(run_id=inp.run_id, at=workflow.now()), **ACTIVITY_OPTIONS)
        self.state = RunState.RUNNING
        for definition_id in inp.definition_ids:
            self._publish(definition_id)
            try:
                result: GenerateResult = await workflow.execute_activity_method(
                    ReportActivities.generate,
                    GenerateInput(run_id=inp.run_id, definition_id=definition_id, report_date=inp.report_date,
                                  as_of_date=inp.as_of_date), **GENERATE_OPTIONS)
                self.produced.append(result.definition_id)
            except ActivityError as exc:
                self.failures[definition_id] = _error_text(exc)
                workflow.logger.error("report %s failed: %s", definition_id, self.failures[definition_id])
        summary: RunSummary = await workflow.execute_activity_method(
            ReportActivities.finish_run, FinishRunInput(run_id=inp.run_id, at=workflow.now(), failures=self.failures),
            **ACTIVITY_OPTIONS)
        self.state = summary.state
        self._publish(None)
        return summary

    @workflow.query
    def progress(self) -> RunSummary:
        return RunSummary(run_id=workflow.info().workflow_id.removeprefix("report-run-"), state=self.state,
                          produced=self.produced, failures=self.failures)

    def _publish(self, current: str | None) -> None:
        workflow.upsert_search_attributes([LANA_STATUS.value_set(self.state.value),
                                           LANA_STEP.value_set(current or "-")])
        lines = [f"**report run**: {self.state.value}, now {current or '-'}", "",
                 f"produced {len(self.produced)}, failed {len(self.failures)}"]
        lines += [f"- {k}: {v}" for k, v in self.failures.items()]
        workflow.set_current_details("\n".join(lines))


@workflow.defn
class ScheduledReportsWorkflow:
    @workflow.run
    async def run(self, inp: ScheduledRunInput) -> RunSummary | None:
        workflow.upsert_search_attributes([LANA_PROCESS_TYPE.value_set("report-schedule")])
        plan: ScheduledRunPlan | None = await workflow.execute_activity_method(
            ReportActivities.plan_scheduled, ScheduledRunInput(day=inp.day, now=workflow.now()), **ACTIVITY_OPTIONS)
        if plan is None or plan.already_finished:
            return None
        try:
            return await workflow.execute_child_workflow(
                ReportRunWorkflow.run, ReportRunInput(run_id=plan.run_id, definition_ids=plan.definition_ids,
                                                      report_date=plan.as_of_date, as_of_date=plan.as_of_date),
                id=report_run_workflow_id(plan.run_id),
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON)
        except WorkflowAlreadyStartedError:
            workflow.logger.info("report run %s is already running or done", plan.run_id)
            return None


async def start_report_run(client, task_queue: str, inp: ReportRunInput):
    """Start the run's workflow, or reach the one already started (a retried trigger)."""
    wid = report_run_workflow_id(inp.run_id)
    try:
        return await client.start_workflow(
            ReportRunWorkflow.run, inp, id=wid, task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle_for(ReportRunWorkflow.run, wid)
