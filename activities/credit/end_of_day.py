"""The end-of-day batch steps (contract: ``domain.credit.end_of_day``).

``run_page(engine, step, business_date, after, limit)`` runs one keyset page of one step in one
database transaction per page and answers a ``StepPage``. ``STEP_FUNCTIONS`` maps each step to its
page function; the ``EndOfDay`` workflow's activity calls ``run_page`` and heartbeats the cursor.

The steps (``accruals.py``, ``obligation_lifecycle.py``, ``maturity.py``) are each a ``plan`` and a
``persist`` run by ``batch.run_step`` (one transaction, failures isolated, see there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.credit import accruals, maturity, obligation_lifecycle
from activities.credit.batch import PersistFn, PlanFn, run_step
from domain.credit.end_of_day import Step, StepPage

PageFn = Callable[[AsyncEngine, date, str | None, int], Awaitable[StepPage]]


def _page(step: Step, plan: PlanFn, persist: PersistFn) -> PageFn:
    async def page(engine: AsyncEngine, business_date: date, after: str | None, limit: int) -> StepPage:
        return await run_step(engine, step, business_date, after, limit, plan, persist)
    page.__name__ = step.value
    return page


STEP_FUNCTIONS: dict[Step, PageFn] = {
    Step.ACCRUE_INTEREST: _page(Step.ACCRUE_INTEREST, accruals.plan_accruals, accruals.persist_accruals),
    Step.COMPLETE_CYCLES: _page(Step.COMPLETE_CYCLES, accruals.plan_completions, accruals.persist_completions),
    Step.OBLIGATION_TRANSITIONS: _page(Step.OBLIGATION_TRANSITIONS, obligation_lifecycle.plan_transitions,
                                       obligation_lifecycle.persist_transitions),
    Step.MATURE_FACILITIES: _page(Step.MATURE_FACILITIES, maturity.plan_maturities, maturity.persist_maturities),
}


async def run_page(engine: AsyncEngine, step: Step, business_date: date, after: str | None,
                   limit: int = 500) -> StepPage:
    return await STEP_FUNCTIONS[Step(step)](engine, business_date, after, limit)
