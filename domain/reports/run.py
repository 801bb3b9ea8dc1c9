"""The report run aggregate and the ReportRun workflow's payloads (custody-price-reports.md §4.1).

A run is QUEUED when triggered (one definition, MANUAL) or scheduled (the whole catalogue,
SCHEDULED), RUNNING once its workflow starts, and SUCCESS or FAILED when every definition has been
tried: a definition that fails keeps its error text and the run ends FAILED, the other files stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from domain.events import EventSourced
from domain.reports.catalogue import BY_ID, CATALOGUE, Kind, ReportDefinition
from domain.reports.errors import IdentityFieldsMissing, InvalidReportRunRequest, ReportDefinitionNotFound


class RunState(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


class RunType(StrEnum):
    MANUAL = "MANUAL"
    SCHEDULED = "SCHEDULED"


def definition_for_trigger(definition_id: str, as_of: date | None) -> ReportDefinition:
    """The definition a manual trigger may run, or the refusal (§4.2): unknown ⇒ not found; identity
    reports ⇒ refused until the fields exist; as-of required where supported, refused elsewhere."""
    d = BY_ID.get(definition_id)
    if d is None:
        raise ReportDefinitionNotFound(f"No report definition {definition_id!r}.")
    if d.kind == Kind.IDENTITY_FIELDS:
        raise IdentityFieldsMissing(
            f"{definition_id} needs customer identity fields (DUI/NIT/passport, detailed address) that are not "
            "stored yet.", definition_id=definition_id)
    if d.supports_as_of and as_of is None:
        raise InvalidReportRunRequest(f"{definition_id} takes an as_of_date: give one.")
    if not d.supports_as_of and as_of is not None:
        raise InvalidReportRunRequest(f"{definition_id} does not take an as_of_date.")
    return d


def scheduled_definitions() -> list[ReportDefinition]:
    """What a scheduled run produces: every runnable definition (identity reports wait for their fields)."""
    return [d for d in CATALOGUE if d.runnable]


def scheduled_run_key(day: date) -> str:
    return f"scheduled:{day.isoformat()}"


@dataclass
class ReportRun(EventSourced):
    entity_type = "report_run"

    run_key: str = ""
    state: RunState = RunState.QUEUED
    run_type: RunType = RunType.MANUAL
    definition_id: str | None = None
    as_of_date: date | None = None
    error: str | None = None
    requested_by: str = ""
    start_time: datetime | None = None
    finished_at: datetime | None = None
    failures: dict[str, str] = field(default_factory=dict)

    @classmethod
    def queue(cls, run_id: str, run_key: str, run_type: RunType, definition_id: str | None, as_of: date | None,
              actor: str) -> ReportRun:
        r = cls(id=run_id)
        r.record("initialized", {"run_key": run_key, "run_type": run_type.value, "definition_id": definition_id,
                                 "as_of_date": as_of.isoformat() if as_of else None, "requested_by": actor})
        return r

    def start(self, at: datetime) -> bool:
        if self.state != RunState.QUEUED:
            return False
        self.record("state_updated", {"state": RunState.RUNNING.value, "start_time": at.isoformat()})
        return True

    def finish(self, at: datetime, failures: dict[str, str]) -> bool:
        if self.state in (RunState.SUCCESS, RunState.FAILED):
            return False
        state = RunState.FAILED if failures else RunState.SUCCESS
        error = "; ".join(f"{k}: {v}" for k, v in sorted(failures.items())) or None
        self.record("state_updated", {"state": state.value, "finished_at": at.isoformat(), "error": error,
                                      "failures": dict(failures)})
        return True

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "initialized":
            self.run_key = payload["run_key"]
            self.run_type = RunType(payload["run_type"])
            self.definition_id = payload["definition_id"]
            self.as_of_date = date.fromisoformat(payload["as_of_date"]) if payload["as_of_date"] else None
            self.requested_by = payload["requested_by"]
        elif event_type == "state_updated":
            self.state = RunState(payload["state"])
            if "start_time" in payload:
                self.start_time = datetime.fromisoformat(payload["start_time"])
            if "finished_at" in payload:
                self.finished_at = datetime.fromisoformat(payload["finished_at"])
                self.error = payload.get("error")
                self.failures = dict(payload.get("failures") or {})


# --- workflow and activity payloads -------------------------------------------------------------

class ReportRunInput(BaseModel):
    """``as_of_date``: for the definitions that take one; ``report_date``: the business date the
    run covers (days past due, the daily files)."""
    run_id: str
    definition_ids: list[str]
    report_date: date
    as_of_date: date | None = None


class ScheduledRunInput(BaseModel):
    """The schedule's tick: ``day`` is the business date the run covers (None: the last closed one)."""
    day: date | None = None
    now: datetime | None = None


class GenerateInput(BaseModel):
    run_id: str
    definition_id: str
    report_date: date
    as_of_date: date | None = None


class GeneratedFile(BaseModel):
    extension: str
    path_in_bucket: str
    size_bytes: int


class GenerateResult(BaseModel):
    definition_id: str
    row_count: int
    files: list[GeneratedFile]


class StartRunInput(BaseModel):
    run_id: str
    at: datetime


class FinishRunInput(BaseModel):
    run_id: str
    at: datetime
    failures: dict[str, str] = {}


class ScheduledRunPlan(BaseModel):
    run_id: str
    definition_ids: list[str]
    as_of_date: date
    already_finished: bool = False


class RunSummary(BaseModel):
    run_id: str
    state: RunState
    produced: list[str] = []
    failures: dict[str, str] = {}
