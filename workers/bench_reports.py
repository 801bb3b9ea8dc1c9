"""`lana bench reports`: every report of the catalogue over N facilities with their accruals and
payments, each generated as a run does it (``activities/reports/operations.generate``: a
server-side cursor streamed into temporary files, then uploaded to local document storage).

Self-contained: an embedded PostgreSQL and the default chart. One facility is made through the
credit operations (lana's default product, $10,000 drawn on 2025-01-27), its end of day run for
Jan 27 … Jan 30 (four daily accruals) and a $100 payment recorded on Jan 30; the others are bulk
copies of it (``workers/bench_seed.py``: every row, accruals and the payment with its allocation
included), the books checked after. ``--facilities 10000,100000`` seeds up to each size in turn
and runs every report at each, so the sizes are compared in one run.

Prints, per report: rows, bytes written, seconds, and the peak RSS of this process while it ran
(and its growth over the RSS before it: a streamed report's stays flat with the number of rows).
Asserts nothing; the figures are noisy on a shared machine.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import psutil

from workers.bench_eod_steps import BENCH_PG_CONF, _template
from workers.bench_seed import check_ledger, payment_id_for, seed_facilities

ACCRUAL_DAYS = [date(2025, 1, d) for d in (27, 28, 29, 30)]
PAYMENT_CENTS = 10_000
REPORT_DATE = date(2025, 1, 31)


async def _template_with_activity(engine, settings) -> str:
    from activities.credit.end_of_day import run_page
    from activities.credit.payments import record_payment
    from domain.credit.end_of_day import STEPS
    from domain.credit.messages import PaymentInput

    fid = await _template(engine)
    for day in ACCRUAL_DAYS:
        for step in STEPS:
            after = None
            while True:
                page = await run_page(engine, step, day, after, 500)
                if page.next_after is None:
                    break
                after = page.next_after
    async with engine.begin() as conn:
        await record_payment(conn, PaymentInput(facility_id=fid, payment_id=payment_id_for(fid),
                                                amount_cents=PAYMENT_CENTS, actor="bench",
                                                now=datetime(2025, 1, 30, 12, tzinfo=UTC)), settings=settings)
    return fid


async def _sample(peak: list[int], stop: asyncio.Event) -> None:
    me = psutil.Process()
    while not stop.is_set():
        peak[0] = max(peak[0], me.memory_info().rss)
        try:
            await asyncio.wait_for(stop.wait(), 0.05)
        except TimeoutError:
            pass


async def _reports(engine, storage, n: int) -> None:
    from activities.reports import operations
    from domain.reports.catalogue import CATALOGUE, Kind
    from domain.reports.run import ReportRun, RunType

    run_id = str(uuid.uuid4())
    await operations.queue(engine, ReportRun.queue(run_id, f"bench:{run_id}", RunType.SCHEDULED, None, REPORT_DATE,
                                                   "system:bench"))
    me = psutil.Process()
    print(f"\n{n:,} facilities — run {run_id}")
    print(f"{'report':<42} {'rows':>10} {'MiB':>8} {'seconds':>8} {'peak RSS':>9} {'growth':>7}")
    empty_shown = False
    for d in CATALOGUE:
        if d.kind == Kind.IDENTITY_FIELDS:
            continue
        if d.kind == Kind.EMPTY:
            if empty_shown:
                continue  # header-only files cost nothing: one stands for all
            empty_shown = True
        before = me.memory_info().rss
        peak, stop = [before], asyncio.Event()
        sampler = asyncio.create_task(_sample(peak, stop))
        t0 = time.perf_counter()
        result = await operations.generate(engine, storage, run_id, d.definition_id,
                                           REPORT_DATE if d.supports_as_of else None, REPORT_DATE)
        seconds = time.perf_counter() - t0
        stop.set()
        await sampler
        size = sum(f.size_bytes for f in result.files)
        print(f"{d.definition_id:<42} {result.row_count:>10,} {size / 2**20:>8.1f} {seconds:>8.2f}"
              f" {peak[0] / 2**20:>7.0f} M {(peak[0] - before) / 2**20:>5.0f} M")


async def _run(sizes: list[int], pg_url: str) -> None:
    from activities.accounting.bootstrap import load_default_chart
    from activities.storage import LocalStorage
    from ground.db import create_engine
    from ground.settings import Settings

    settings = Settings(database_url=pg_url)
    engine = create_engine(pg_url, pool_size=4)
    async with engine.begin() as conn:
        await load_default_chart(conn)
    template = await _template_with_activity(engine, settings)
    have = 1
    with tempfile.TemporaryDirectory(prefix="lana-bench-reports-") as tmp:
        storage = LocalStorage(Path(tmp), "http://localhost", "bench-secret-bench-secret-bench-secret")
        for n in sorted(sizes):
            t0 = time.perf_counter()
            await seed_facilities(engine, template, n - have)
            have = n
            print(f"seeded {n:,} facilities in {time.perf_counter() - t0:.1f} s (4 accruals and a payment each)")
            async with engine.connect() as conn:
                problems = await check_ledger(conn)
            print(f"books: {'; '.join(problems) or 'trial balance nets to zero, balances = entries'}")
            await _reports(engine, storage, n)
    await engine.dispose()


def run_bench(sizes: list[int]) -> None:
    from workers.embedded_pg import bench_database

    with bench_database(extra_conf=BENCH_PG_CONF) as (url, _tmp):
        asyncio.run(_run(sizes, url))



