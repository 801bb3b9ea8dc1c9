"""Refusals of the business clock (api-surface.md DC4)."""

from __future__ import annotations

from domain.errors import Conflict, ServiceUnavailable, register


@register
class ClockNotAdvanceable(Conflict):
    """Only a simulated clock moves by request; a real one follows the wall clock."""

    code = "time.clock_not_advanceable"
    title = "The business clock cannot be advanced"


@register
class AdvanceInProgress(Conflict):
    code = "time.advance_in_progress"
    title = "Another advance of the business clock is running"
    transient = True


@register
class EndOfDayNotFinished(ServiceUnavailable):
    """An end-of-day run the advance waited for did not finish in time (it goes on; repeat the
    request with the same Idempotency-Key to wait for it again, the clock does not move twice)."""

    code = "time.end_of_day_not_finished"
    title = "End of day still running"
