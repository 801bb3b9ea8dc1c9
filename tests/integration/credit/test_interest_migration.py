"""Migration 0050_credit_interest on a database with a facility activated before it: the facility
gets its first accrual cycle (from its activation day) and its not-yet-due obligation a next
transition date, and the end-of-day steps open the receivable accounts it lacks when first needed."""

from __future__ import annotations

import asyncio
from datetime import date

from alembic import command
from sqlalchemy import text

from activities.migrate import alembic_config
from tests.integration.credit.eod_helpers import activated_facility, run_dates
from tests.integration.credit.test_end_of_day import AMOUNT, DAILY, INTEREST, JAN15, SINGLE

LEGACY_ROLES = ("disbursed_receivable_due", "disbursed_receivable_overdue", "disbursed_defaulted",
                "interest_receivable_due", "interest_receivable_overdue", "interest_defaulted", "interest_added_omnibus")


async def test_a_facility_activated_before_interest_existed_starts_accruing(credit_stack, db_url):
    stack = credit_stack
    fid, _ = await activated_facility(stack, JAN15, AMOUNT, **SINGLE)
    cfg = alembic_config(db_url)
    await stack.engine.dispose()
    await asyncio.to_thread(command.downgrade, cfg, "0031_credit_disbursal_failed")
    async with stack.engine.begin() as conn:  # what activation wrote before issue 17
        await conn.execute(text("UPDATE credit_facilities SET accounts = accounts - CAST(:r AS text[])"),
                           {"r": list(LEGACY_ROLES)})
    await asyncio.to_thread(command.upgrade, cfg, "heads")
    await stack.engine.dispose()
    async with stack.engine.connect() as conn:
        cycle = (await conn.execute(text(
            "SELECT idx, start_date, end_date, status, next_period_end FROM credit_accrual_cycles"))).one()
        principal = (await conn.execute(text("SELECT next_transition_date FROM credit_obligations"))).scalar_one()
    assert tuple(cycle) == (1, JAN15, date(2025, 1, 31), "InProgress", JAN15)
    assert principal == date(2025, 4, 15)

    runs = await run_dates(stack.engine, JAN15, date(2025, 1, 31))
    assert all(r.failures == [] for r in runs)
    async with stack.engine.connect() as conn:
        accounts = (await conn.execute(text("SELECT accounts FROM credit_facilities"))).scalar_one()
        interest = (await conn.execute(text(
            "SELECT amount_cents, status FROM credit_obligations WHERE obligation_type = 'Interest'"))).one()
    assert set(LEGACY_ROLES) <= set(accounts)  # opened by the cycle's completion
    assert tuple(interest) == (INTEREST[0], "Due") and INTEREST[0] == 17 * DAILY
