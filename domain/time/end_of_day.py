"""The EndOfDay process's payloads: what one date's run does, reports and records.

``EndOfDay(D)`` runs the credit steps (``domain.credit.end_of_day.STEPS``) in order, one activity
per step that loops over the step's keyset pages; each step answers a ``StepResult`` (pages,
entities processed, failures, facility events signalled). The run's ``EndOfDaySummary`` is the
workflow's query answer while it runs, its result, and the row recorded for the date.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.credit.end_of_day import Step, StepFailure, StepPage

# A summary is a workflow payload, a query answer and a stored row: it lists at most this many
# failures per step (the count is always complete; the steps log every one).
MAX_LISTED_FAILURES = 50
# A producer run catches up at most this many dates, then continues as new.
DATES_PER_RUN = 31


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_FAILURES = "COMPLETED_WITH_FAILURES"


class StepInput(BaseModel):
    step: Step
    business_date: date
    page_size: int = 500


class StepResult(BaseModel):
    step: Step
    pages: int = 0
    processed: int = 0
    failed: int = 0
    failures: list[StepFailure] = Field(default_factory=list)  # the first MAX_LISTED_FAILURES
    events: int = 0
    signalled: int = 0  # events delivered to a running facility workflow
    not_delivered: int = 0  # events whose facility workflow is missing or closed (not an error)

    def add(self, page: StepPage) -> None:
        self.pages += 1
        self.processed += page.processed
        self.failed += len(page.failures)
        room = MAX_LISTED_FAILURES - len(self.failures)
        if room > 0:
            self.failures.extend(page.failures[:room])
        self.events += len(page.events)

    def refused(self, failure: StepFailure) -> None:
        """The step as a whole was refused (not retried): listed like an entity's failure."""
        self.failed += 1
        if len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append(failure)


class StepCursor(BaseModel):
    """The step activity's heartbeat: where a retried attempt resumes (the events of committed
    pages wait in the outbox until signalled, not here)."""

    after: str | None = None
    done: bool = False
    result: StepResult


class EndOfDayInput(BaseModel):
    business_date: date
    page_size: int = 500


class EndOfDaySummary(BaseModel):
    business_date: date
    status: RunStatus = RunStatus.RUNNING
    current_step: Step | None = None
    steps: list[StepResult] = Field(default_factory=list)
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.steps)

    @property
    def processed(self) -> int:
        return sum(s.processed for s in self.steps)

    @property
    def pages(self) -> int:
        return sum(s.pages for s in self.steps)


class DatesToCloseInput(BaseModel):
    now: datetime  # the workflow's clock (real mode); a simulated clock reads its own instant
    limit: int = DATES_PER_RUN


class ProducerInput(BaseModel):
    page_size: int = 500
    dates_run: list[date] = Field(default_factory=list)  # carried across continue-as-new


class ProducerResult(BaseModel):
    dates_run: list[date] = Field(default_factory=list)
    busy: date | None = None  # a date whose run was already going (started elsewhere): left to it


# The facility workflow's signal for a ``FacilityEvent`` (workflow ``credit-facility-{id}``).
FACILITY_EVENT_SIGNAL = "end_of_day_event"


def facility_workflow_id(facility_id: str) -> str:
    """The facility's workflow id (as ``workflows.credit_facility`` starts it)."""
    return f"credit-facility-{facility_id}"
