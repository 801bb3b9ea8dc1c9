"""The loan book at a glance (issue 20 items 5–6): which obligation statuses the dashboard sums,
the CVL bands a facility falls into relative to its own terms, and the delinquency aging buckets.

Pure rules: the store turns them into one aggregate query each (``activities/dashboard/store.py``),
the page and its tests use the same definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from domain.credit.status import ObligationStatus

# What the dashboard reports as outstanding (credit.md §7.2; a Paid obligation has nothing left).
OUTSTANDING_STATUSES: tuple[ObligationStatus, ...] = (
    ObligationStatus.NOT_YET_DUE, ObligationStatus.DUE, ObligationStatus.OVERDUE, ObligationStatus.DEFAULTED)


class CvlBand(StrEnum):
    """Where an open facility's CVL sits against its own terms (credit.md §3.3): the lines are the
    facility's liquidation, margin-call and initial CVL, each band closed below (a CVL equal to the
    margin-call line is at or above margin call, as §3.3 says)."""

    BELOW_LIQUIDATION = "below_liquidation"            # CVL < liquidation_cvl (CVL 0 included)
    LIQUIDATION_TO_MARGIN_CALL = "liquidation_to_margin_call"  # liquidation ≤ CVL < margin call
    MARGIN_CALL_TO_INITIAL = "margin_call_to_initial"  # margin call ≤ CVL < initial
    ABOVE_INITIAL = "above_initial"                    # CVL ≥ initial (finite)
    NO_EXPOSURE = "no_exposure"                        # nothing outstanding: CVL infinite, no loan


CVL_BANDS: tuple[CvlBand, ...] = tuple(CvlBand)


def cvl_band(cvl: Decimal | None, outstanding_cents: int, liquidation: Decimal, margin_call: Decimal,
             initial: Decimal) -> CvlBand:
    """The band of one facility (the store computes the same thing in SQL, see its tests)."""
    if outstanding_cents == 0 or cvl is None or cvl.is_infinite():
        return CvlBand.NO_EXPOSURE
    if cvl < liquidation:
        return CvlBand.BELOW_LIQUIDATION
    if cvl < margin_call:
        return CvlBand.LIQUIDATION_TO_MARGIN_CALL
    if cvl < initial:
        return CvlBand.MARGIN_CALL_TO_INITIAL
    return CvlBand.ABOVE_INITIAL


@dataclass(frozen=True)
class AgingBucket:
    """Days past due in ``[low, high]`` (``high`` None: no upper end)."""

    name: str
    low: int
    high: int | None

    def holds(self, days: int) -> bool:
        return days >= self.low and (self.high is None or days <= self.high)


# Days past due = aging date − due date, for an obligation with something outstanding; a
# not-yet-due obligation, or one due today, is current.
AGING_BUCKETS: tuple[AgingBucket, ...] = (
    AgingBucket("current", -(10**6), 0),
    AgingBucket("days_1_30", 1, 30),
    AgingBucket("days_31_60", 31, 60),
    AgingBucket("days_61_90", 61, 90),
    AgingBucket("over_90_days", 91, None),
)


def days_past_due(status: ObligationStatus, due_date: date, as_of: date) -> int:
    """0 for a not-yet-due obligation; else the days since its due date (never negative)."""
    if status is ObligationStatus.NOT_YET_DUE:
        return 0
    return max((as_of - due_date).days, 0)


def aging_bucket(days: int) -> AgingBucket:
    return next(b for b in AGING_BUCKETS if b.holds(days))
