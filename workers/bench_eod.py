"""`lana bench eod`: one business date's end of day for N active facilities, through the
``EndOfDay`` workflow with one worker (issue 17's benchmark).

Self-contained: an embedded PostgreSQL (durability on) and a Temporal dev server. The facilities
are seeded as ``lana bench eod-steps`` does (one through the credit operations, N − 1 copies of
it in bulk SQL, ``workers/bench_seed.py``, the books checked after; lana's default product,
$10,000 drawn on 2025-01-27). Before the run the ledger alone posts as many
two-entry postings one by one (``ledger.post``'s single-poster rate in the same run), then
``EndOfDay(2025-01-27)`` runs (an ordinary day: one accrual per facility), ``--days`` ordinary
days in all (up to Jan 30) and, with ``--month-end``, every date up to 2025-01-31 (accrual, cycle
completion, interest obligation due). ``--pages-in-flight 1,2`` alternates the setting
``end_of_day_pages_in_flight`` over the dates (a worker per date), so variants meet the same noise.
Prints facilities/s, the wall time of each step (from the workflow's ``progress`` query), the
accrual postings/s next to the single-poster rate, and the peak RSS of the worker process and of
PostgreSQL (sum over its processes, shared buffers counted in each). Asserts nothing.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import psutil
from sqlalchemy import text

from workers.bench_eod_steps import BENCH_PG_CONF, DAYS, _baseline, _baseline_accounts, _template
from workers.bench_seed import check_ledger, seed_facilities


def _pg_processes(data_dir: Path) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if str(data_dir) in " ".join(p.info["cmdline"] or []):
                out += [p, *p.children()]
        except psutil.Error:
            continue
    return out


def _cpu(procs: list[psutil.Process]) -> dict[int, float]:
    """CPU seconds (user + system) by pid."""
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            continue
    return out


def _cpu_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU spent since ``before`` by the processes alive now (one started meanwhile: all of it)."""
    return sum(c - before.get(pid, 0.0) for pid, c in now.items())


def _pg_rss(data_dir: Path) -> int:
    total = 0
    for p in psutil.process_iter(["cmdline"]):
        try:
            if str(data_dir) in " ".join(p.info["cmdline"] or []):
                total += p.memory_info().rss + sum(c.memory_info().rss for c in p.children())
        except psutil.Error:
            continue
    return total


async def _sample(data_dir: Path, peak: dict[str, int], stop: asyncio.Event) -> None:
    me = psutil.Process()
    while not stop.is_set():
        peak["worker"] = max(peak["worker"], me.memory_info().rss)
        peak["postgres"] = max(peak["postgres"], await asyncio.to_thread(_pg_rss, data_dir))
        try:
            await asyncio.wait_for(stop.wait(), 0.25)
        except TimeoutError:
            pass


async def _one_date(client, queue: str, day: date, page_size: int, n: int, label: str,
                    data_dir: Path) -> float | None:
    from domain.time.end_of_day import EndOfDayInput
    from workflows.end_of_day import EndOfDayWorkflow

    me = psutil.Process()
    cpu0 = (_cpu([me]), _cpu(_pg_processes(data_dir)))

    handle = await client.start_workflow(EndOfDayWorkflow.run, EndOfDayInput(business_date=day, page_size=page_size),
                                         id=f"bench-eod-{day}-{uuid.uuid4().hex[:6]}", task_queue=queue)
    t0, seen, ends = time.perf_counter(), 0, []
    while True:  # each step's end, from the progress query
        summary = await handle.query(EndOfDayWorkflow.progress)
        while len(summary.steps) > seen:
            ends.append(time.perf_counter() - t0)
            seen += 1
        if summary.status.value != "RUNNING":
            break
        await asyncio.sleep(0.05)
    summary = await handle.result()
    wall = time.perf_counter() - t0
    prev, accruals = 0.0, None
    for r, end in zip(summary.steps, ends, strict=False):
        rate = f"{r.processed / (end - prev):,.0f}/s" if r.processed else "-"
        print(f"  {day}  {r.step.value:<23} {r.processed:>9,} entities {r.pages:>5} pages {end - prev:>7.2f} s "
              f"{rate:>9}  failed {r.failed}, signalled {r.signalled}")
        if r.step.value == "accrue_interest" and r.processed:
            accruals = r.processed / (end - prev)  # one posting per accrual
        prev = end
    worker_cpu = _cpu_since(cpu0[0], _cpu([me]))
    pg_cpu = _cpu_since(cpu0[1], _cpu(_pg_processes(data_dir)))
    print(f"  {day}  whole date ({label}): {wall:.2f} s → {n / wall:,.0f} facilities/s ({summary.status.value});"
          f" CPU per facility: worker {worker_cpu / n * 1e6:,.0f} µs, PostgreSQL {pg_cpu / n * 1e6:,.0f} µs")
    return accruals


async def _run(n: int, page_size: int, month_end: bool, in_flight: list[int], days: int, pg_url: str,
               data_dir: Path) -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from activities.registry import Deps
    from ground.db import create_engine
    from ground.settings import Settings
    from workers.worker import build_worker
    from workflows.search_attributes import ALL_KEYS

    settings = Settings(database_url=pg_url, temporal_task_queue=f"bench-eod-{uuid.uuid4().hex[:8]}")
    engine = create_engine(pg_url, pool_size=4)
    t0 = time.perf_counter()
    phases = await seed_facilities(engine, await _template(engine), n - 1)
    seeded = time.perf_counter() - t0
    print(f"seeded {n:,} facilities in {seeded:.1f} s ({n / seeded:,.0f}/s; index builds {phases['indexes']:.1f} s,"
          f" VACUUM ANALYZE {phases['vacuum']:.1f} s)")
    async with engine.connect() as conn:
        t0 = time.perf_counter()
        problems = await check_ledger(conn)
        print(f"books after seeding: {'; '.join(problems) or 'trial balance nets to zero, balances = entries'}"
              f" ({time.perf_counter() - t0:.1f} s)")
        size = (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar_one()
        buffers = (await conn.execute(text("SHOW shared_buffers"))).scalar_one()
        print(f"database {size / 2**20:,.0f} MiB, shared_buffers {buffers}")
    pairs = await _baseline_accounts(engine, min(n, 2_000))
    base = await _baseline(engine, pairs, "before")
    print(f"ledger.post alone, one poster: {len(pairs) / base:,.0f} postings/s")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.prefix, "bin", "temporal")), data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS, dev_server_log_level="error")
    peak, stop = {"worker": 0, "postgres": 0}, asyncio.Event()
    sampler = asyncio.create_task(_sample(data_dir, peak, stop))
    rates: list[float] = []
    try:
        for i, day in enumerate(DAYS if month_end else DAYS[:days]):
            k = in_flight[i % len(in_flight)]  # variants alternate over the dates, so the box's noise hits each alike
            run = settings.model_copy(update={"end_of_day_pages_in_flight": k})
            async with build_worker(env.client, Deps(engine=engine, settings=run), run.temporal_task_queue):
                rate = await _one_date(env.client, run.temporal_task_queue, day, page_size, n,
                                       f"page {page_size}, {k} in flight", data_dir)
            if rate and day != DAYS[-1]:
                rates.append(rate)
    finally:
        stop.set()
        await sampler
        await env.shutdown()
    base = await _baseline(engine, pairs, "after")
    print(f"ledger.post alone, one poster, after: {len(pairs) / base:,.0f} postings/s")
    if rates:
        print(f"accrual postings/s on ordinary days: {', '.join(f'{r:,.0f}' for r in rates)}"
              f" (ledger.post alone, one poster: {len(pairs) / base:,.0f})")
    print(f"peak RSS: worker process {peak['worker'] / 2**20:,.0f} MiB, PostgreSQL {peak['postgres'] / 2**20:,.0f} MiB "
          "(sum over its processes)")
    await engine.dispose()


def run_bench(n: int, page_size: int, month_end: bool, in_flight: list[int] | None = None, days: int = 1) -> None:
    from workers.embedded_pg import bench_database

    with bench_database(extra_conf=BENCH_PG_CONF) as (url, tmp):
        asyncio.run(_run(n, page_size, month_end, in_flight or [2], days, url, tmp))
