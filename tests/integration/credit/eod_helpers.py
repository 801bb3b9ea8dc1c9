"""End-of-day test helpers: run every step of a business date page by page (what the ``EndOfDay``
workflow does, without it), and facilities activated on a chosen date.

The facility is driven through the credit operations themselves (the steps the facility workflow's
activities run, same transactions, same ledger postings) with a chosen ``now``, so a test can start
a loan on 2025-01-15 and walk its business dates; its customer and deposit account come from the
API. No facility workflow runs for these loans (the tests read the database and the API).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from activities.credit import operations
from activities.credit.end_of_day import run_page
from domain.credit.end_of_day import STEPS, FacilityEvent, Step, StepFailure
from domain.credit.messages import (
    ActivateInput,
    CollateralInput,
    ConcludeDisbursal,
    ConcludeProposal,
    DisbursalInput,
)
from tests.credit_fixtures import terms
from tests.integration.credit.facility_helpers import PRICE, customer_with_deposit, set_price

MAX_AGE = timedelta(minutes=5)


@dataclass
class DayRun:
    business_date: date
    processed: Counter = field(default_factory=Counter)
    failures: list[StepFailure] = field(default_factory=list)
    events: list[FacilityEvent] = field(default_factory=list)
    pages: Counter = field(default_factory=Counter)


async def run_end_of_day(engine, business_date: date, *, limit: int = 500) -> DayRun:
    """Every step of ``STEPS`` in order for ``business_date``, each page after page until its
    cursor is exhausted (``run_page`` directly: one transaction per page)."""
    run = DayRun(business_date)
    for step in STEPS:
        after = None
        while True:
            page = await run_page(engine, step, business_date, after, limit)
            run.pages[step] += 1
            run.processed[step] += page.processed
            run.failures += page.failures
            run.events += page.events
            if page.next_after is None:
                break
            after = page.next_after
    return run


async def run_dates(engine, first: date, last: date, **kw) -> list[DayRun]:
    runs, d = [], first
    while d <= last:
        runs.append(await run_end_of_day(engine, d, **kw))
        d += timedelta(days=1)
    return runs


def at(d: date, hour: int = 10) -> datetime:
    return datetime.combine(d, time(hour), tzinfo=UTC)


async def activated_facility(stack, activated_on: date, amount: int, *, collateral_sats: int = 100_000_000,
                             **term_overrides) -> tuple[str, uuid.UUID]:
    """A facility proposed, approved, collateralized and activated on ``activated_on`` (10:00 UTC);
    returns its id and the customer's deposit account. Terms: lana's default product unless
    overridden (12 %, 3 months, monthly cycle, daily accrual, overdue 50 / default 360 days)."""
    await set_price(stack.engine, PRICE)
    customer_id, deposit = await customer_with_deposit(stack)
    fid, now = str(uuid.uuid4()), at(activated_on)
    engine = stack.engine
    async with engine.begin() as conn:
        await operations.create_proposal(conn, fid, customer_id, amount, terms(**term_overrides), None, "test",
                                         kyc_required=False)
    async with engine.begin() as conn:
        await operations.conclude_proposal(conn, ConcludeProposal(facility_id=fid, approved=True, now=now), None)
    async with engine.begin() as conn:
        await operations.record_collateral(conn, CollateralInput(facility_id=fid, seq=1, collateral_sats=collateral_sats,
                                                                 actor="test", now=now), MAX_AGE)
    async with engine.begin() as conn:
        state = await operations.activate(conn, ActivateInput(facility_id=fid, now=now), MAX_AGE, None)
    assert state.status is not None and state.status.value == "Active", state
    return fid, deposit


async def disburse(stack, facility_id: str, amount: int, on: date) -> str:
    """A disbursal initiated and approved (settled) on ``on``."""
    await set_price(stack.engine, PRICE)
    did = str(uuid.uuid4())
    async with stack.engine.begin() as conn:
        await operations.initiate_disbursal(conn, DisbursalInput(facility_id=facility_id, disbursal_id=did,
                                                                 amount_cents=amount, actor="test", now=at(on)),
                                            MAX_AGE, kyc_required=False)
    async with stack.engine.begin() as conn:
        await operations.conclude_disbursal(conn, ConcludeDisbursal(facility_id=facility_id, disbursal_id=did,
                                                                    approved=True, now=at(on)), MAX_AGE, None)
    return did


__all__ = ["STEPS", "DayRun", "Step", "activated_facility", "at", "disburse", "run_dates", "run_end_of_day"]
