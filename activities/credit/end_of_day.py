"""The end-of-day batch steps (contract: ``domain.credit.end_of_day``).

``run_page(engine, step, business_date, after, limit)`` runs one keyset page of one step in one
database transaction per page and answers a ``StepPage``. ``STEP_FUNCTIONS`` maps each step to its
page function; the ``EndOfDay`` workflow's activity calls ``run_page`` and heartbeats the cursor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.credit.end_of_day import Step, StepPage

PageFn = Callable[[AsyncEngine, date, str | None, int], Awaitable[StepPage]]

STEP_FUNCTIONS: dict[Step, PageFn] = {}

async def run_page(engine: AsyncEngine, step: Step, business_date: date, after: str | None,
                   limit: int = 500) -> StepPage:
    fn = STEP_FUNCTIONS.get(Step(step))
    if fn is None:  # a step not built yet does nothing (and says so in the page)
        return StepPage(step=Step(step), business_date=business_date)
    return await fn(engine, business_date, after, limit)
