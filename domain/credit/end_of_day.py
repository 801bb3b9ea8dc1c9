"""The end-of-day contract between the batch steps and the ``EndOfDay`` workflow (credit.md §6.5,
§7.3, §10, §12.1).

One business date D runs the steps in ``STEPS`` order; each step is a keyset-paged, set-based pass
over PostgreSQL (``activities.credit.end_of_day.run_page``) that commits one page at a time and
answers a ``StepPage``. A page is idempotent: every posting carries a key from business identity,
and an entity processed for D is no longer selected for D, so a rerun of the date (or of a page
after a crash) changes nothing. ``next_after`` is the keyset cursor of the next page (``None``: the
step is done for D). An entity that fails its step is reported in ``failures``, skipped, and
selected again on the next run. ``events`` are the state changes a facility workflow must hear
(sent as signals after the page has committed), never one per facility per day.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field


class Step(StrEnum):
    ACCRUE_INTEREST = "accrue_interest"  # one accrual period per facility whose next period ends <= D
    COMPLETE_CYCLES = "complete_cycles"  # cycles whose last period is accrued: interest obligation
    OBLIGATION_TRANSITIONS = "obligation_transitions"  # not yet due -> due -> overdue -> defaulted
    MATURE_FACILITIES = "mature_facilities"  # active facilities with maturity date <= D


STEPS: tuple[Step, ...] = (Step.ACCRUE_INTEREST, Step.COMPLETE_CYCLES, Step.OBLIGATION_TRANSITIONS,
                           Step.MATURE_FACILITIES)


class FacilityEventKind(StrEnum):
    INTEREST_OBLIGATION_CREATED = "interest_obligation_created"  # a cycle completed (new cycle in detail)
    OBLIGATION_DUE = "obligation_due"
    OBLIGATION_OVERDUE = "obligation_overdue"
    OBLIGATION_DEFAULTED = "obligation_defaulted"
    MATURED = "matured"
    # the total outstanding moved (interest posted, an obligation defaulted) and, at the latest price,
    # the collateralization state changed; detail = ``messages.CollateralizationSignal`` fields
    COLLATERALIZATION_CHANGED = "collateralization_changed"


class FacilityEvent(BaseModel):
    facility_id: str
    kind: FacilityEventKind
    business_date: date
    detail: dict[str, str | int | None] = Field(default_factory=dict)


class StepFailure(BaseModel):
    entity_id: str
    code: str
    message: str


class StepPage(BaseModel):
    step: Step
    business_date: date
    processed: int = 0
    failures: list[StepFailure] = Field(default_factory=list)
    events: list[FacilityEvent] = Field(default_factory=list)
    next_after: str | None = None
