"""The end-of-day batch steps (contract: ``domain.credit.end_of_day``).

``run_page(engine, step, business_date, after, limit)`` runs one keyset page of one step in one
database transaction per page and answers a ``StepPage``. ``STEP_FUNCTIONS`` maps each step to its
page function; the ``EndOfDay`` workflow's activity calls ``run_page`` and heartbeats the cursor.

Pages of one step may run concurrently: ``page_end(engine, step, D, after, limit)`` measures where
the page starting after ``after`` ends (its ``limit``-th key, None for the last page), and
``run_page(…, until=end)`` then takes exactly the range ``(after, end]``. A page function that
can do this carries its measure as ``page.end`` (every real step does; a test's stand-in
without one is run page after page).

The steps (``accruals.py``, ``obligation_lifecycle.py``, ``maturity.py``) are each a ``plan`` and a
``persist`` run by ``batch.run_step`` (one transaction, failures isolated, see there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.credit import accruals, maturity, obligation_lifecycle
from activities.credit.batch import PersistFn, PlanFn, run_step
from domain.credit.end_of_day import Step, StepPage

PageFn = Callable[..., Awaitable[StepPage]]  # (engine, business_date, after, limit[, until=])
EndFn = Callable[[AsyncConnection, date, str | None, int], Awaitable[str | None]]


def _page(step: Step, plan: PlanFn, persist: PersistFn, end: EndFn) -> PageFn:
    async def page(engine: AsyncEngine, business_date: date, after: str | None, limit: int,
                   until: str | None = None) -> StepPage:
        return await run_step(engine, step, business_date, after, limit, plan, persist, until)

    async def measure(engine: AsyncEngine, business_date: date, after: str | None, limit: int) -> str | None:
        async with engine.connect() as conn:
            return await end(conn, business_date, after, limit)

    page.__name__ = step.value
    page.end = measure  # type: ignore[attr-defined]
    return page


STEP_FUNCTIONS: dict[Step, PageFn] = {
    Step.ACCRUE_INTEREST: _page(Step.ACCRUE_INTEREST, accruals.plan_accruals, accruals.persist_accruals,
                                accruals.accruals_end),
    Step.COMPLETE_CYCLES: _page(Step.COMPLETE_CYCLES, accruals.plan_completions, accruals.persist_completions,
                                accruals.completions_end),
    Step.OBLIGATION_TRANSITIONS: _page(Step.OBLIGATION_TRANSITIONS, obligation_lifecycle.plan_transitions,
                                       obligation_lifecycle.persist_transitions, obligation_lifecycle.transitions_end),
    Step.MATURE_FACILITIES: _page(Step.MATURE_FACILITIES, maturity.plan_maturities, maturity.persist_maturities,
                                  maturity.maturities_end),
}


async def run_page(engine: AsyncEngine, step: Step, business_date: date, after: str | None,
                   limit: int = 500, until: str | None = None) -> StepPage:
    fn = STEP_FUNCTIONS[Step(step)]
    if until is None:
        return await fn(engine, business_date, after, limit)
    return await fn(engine, business_date, after, limit, until=until)


def can_measure(step: Step) -> bool:
    """Whether the step's pages can be measured ahead (``page_end``) and so run concurrently."""
    return getattr(STEP_FUNCTIONS[Step(step)], "end", None) is not None


async def page_end(engine: AsyncEngine, step: Step, business_date: date, after: str | None,
                   limit: int) -> str | None:
    """Where the page of ``limit`` entities after ``after`` ends (None: it is the last page)."""
    return await STEP_FUNCTIONS[Step(step)].end(engine, business_date, after, limit)  # type: ignore[attr-defined]
