"""The real end-of-day steps with pages in flight (``run_pages`` over ``page_end`` / ``run_page(…,
until=)``, as the step activity runs them): the same outcome as page after page, every entity once.

Seven facilities (one through the operations, six seeded, ``workers/bench_seed.py``), pages of 2,
three in flight, Jan 27–31: four ordinary days and the month end (accrual, cycle completion with
the interest obligation, its due reclassification)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from activities.credit.end_of_day import can_measure, page_end, run_page
from activities.time.activity import run_pages
from domain.credit.end_of_day import STEPS, Step, StepPage
from tests.integration.credit.test_bench_seed import fingerprint
from workers.bench_eod_steps import _template
from workers.bench_seed import check_ledger, seed_facilities


async def _day(engine, day: date) -> dict[Step, list[StepPage]]:
    pages: dict[Step, list[StepPage]] = {}
    for step in STEPS:
        assert can_measure(step)
        got = pages.setdefault(step, [])

        async def on_page(page: StepPage, got=got) -> None:
            got.append(page)

        await run_pages(lambda after, until, step=step: run_page(engine, step, day, after, 2, until),
                        lambda after, step=step: page_end(engine, step, day, after, 2), None, 3, on_page)
    return pages


async def test_pages_in_flight_process_every_facility_once_with_the_sequential_figures(engine):
    template = await _template(engine)
    await seed_facilities(engine, template, 6)
    day = date(2025, 1, 27)
    while day <= date(2025, 1, 31):
        pages = await _day(engine, day)
        accrued = pages[Step.ACCRUE_INTEREST]
        assert sum(p.processed for p in accrued) == 7 and not any(p.failures for p in accrued)
        assert len(accrued) == 4 and [p.next_after is None for p in accrued] == [False] * 3 + [True]
        keys = [p.next_after for p in accrued[:-1]]
        assert keys == sorted(keys)  # handed over in key order
        if day.day == 31:
            assert sum(p.processed for p in pages[Step.COMPLETE_CYCLES]) == 7
            assert sum(p.processed for p in pages[Step.OBLIGATION_TRANSITIONS]) == 7
            assert sum(len(p.events) for p in pages[Step.COMPLETE_CYCLES]) == 7
        day += timedelta(days=1)
    again = await _day(engine, date(2025, 1, 31))  # a rerun changes nothing
    assert all(p.processed == 0 for ps in again.values() for p in ps)

    async with engine.connect() as conn:
        assert await check_ledger(conn) == []
        counts = (await conn.execute(text(
            "SELECT count(*) FILTER (WHERE idempotency_key LIKE 'accrual:%') AS accruals,"
            " count(*) FILTER (WHERE idempotency_key LIKE 'cycle:%') AS cycles FROM ledger_transactions"))).one()
        assert (counts.accruals, counts.cycles) == (5 * 7, 7)
        expected = await fingerprint(conn, template)  # the template's rows: what each facility must have
        for (fid,) in await conn.execute(text("SELECT id FROM credit_facilities WHERE id <> :t"), {"t": template}):
            assert await fingerprint(conn, str(fid)) == expected
