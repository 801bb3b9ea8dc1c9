"""`lana bench classify`: classify N customers end to end and print the rate and peak memory.

Self-contained: an embedded PostgreSQL (durability on) and a Temporal dev server in a temporary
directory, a real worker in-process. Customers are bulk-inserted (read model + `initialized` event)
with last-activity dates spread over ~14 years, then the classification workflow runs once.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

import psutil
from sqlalchemy import text

SEED = """
INSERT INTO customers (id, email, telegram_handle, customer_type, kyc_status, kyc_level, activity,
                       last_activity_at, version, created_at, updated_at)
SELECT gen_random_uuid(), 'bench' || g || '@example.com', 'bench' || g,
       (ARRAY['Individual','Bank','PrivateCompany'])[1 + g % 3], 'PendingVerification', 'NotKyced',
       'Active', now() - make_interval(days => ((g * 7919) % 5200)::int), 1, now(), now()
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g
"""
SEED_EVENTS = """
INSERT INTO events (entity_type, entity_id, sequence, event_type, payload)
SELECT 'customer', id::text, 1, 'initialized',
       jsonb_build_object('email', email, 'telegram_handle', telegram_handle,
                          'customer_type', customer_type, 'actor', 'system:bench')
FROM customers
"""


async def _sample_rss(proc: psutil.Process, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        try:
            await asyncio.wait_for(stop.wait(), 0.05)
        except TimeoutError:
            pass


async def _run(n: int, page_size: int, pages_per_run: int, pg_url: str, temporal_bin: str) -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from activities.registry import Deps
    from domain.customers.messages import ClassificationInput
    from ground.db import create_engine
    from ground.settings import Settings
    from workers.worker import build_worker
    from workflows.customer_activity import CustomerActivityClassificationWorkflow
    from workflows.search_attributes import ALL_KEYS

    settings = Settings(database_url=pg_url, temporal_task_queue=f"bench-{uuid.uuid4().hex[:8]}",
                        activity_page_size=page_size)
    engine = create_engine(pg_url, pool_size=5)
    t0 = time.perf_counter()
    async with engine.begin() as conn:
        for lo in range(1, n + 1, 100_000):
            await conn.execute(text(SEED), {"lo": lo, "hi": min(n, lo + 99_999)})
        await conn.execute(text(SEED_EVENTS))
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE customers"))
    print(f"seeded {n:,} customers in {time.perf_counter() - t0:.1f} s")

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_bin, data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS, dev_server_log_level="error")
    proc = psutil.Process()
    try:
        worker = build_worker(env.client, Deps(engine=engine, settings=settings), settings.temporal_task_queue)
        async with worker:
            rss_before = proc.memory_info().rss
            peak, stop = [rss_before], asyncio.Event()
            sampler = asyncio.create_task(_sample_rss(proc, peak, stop))
            t1 = time.perf_counter()
            result = await env.client.execute_workflow(
                CustomerActivityClassificationWorkflow.run,
                ClassificationInput(page_size=page_size, pages_per_run=pages_per_run),
                id=f"bench-classify-{uuid.uuid4().hex[:8]}", task_queue=settings.temporal_task_queue)
            elapsed = time.perf_counter() - t1
            t2 = time.perf_counter()
            again = await env.client.execute_workflow(
                CustomerActivityClassificationWorkflow.run,
                ClassificationInput(page_size=page_size, pages_per_run=pages_per_run),
                id=f"bench-classify-{uuid.uuid4().hex[:8]}", task_queue=settings.temporal_task_queue)
            steady = time.perf_counter() - t2
            stop.set()
            await sampler
    finally:
        await env.shutdown()
        await engine.dispose()
    print(f"second run (steady state): {again.scanned:,} classifiable customers ({again.changed:,} changed) "
          f"in {steady:.1f} s → {again.scanned / steady:,.0f} customers/s")
    pages = -(-result.scanned // page_size)
    print(f"classified {result.scanned:,} customers ({result.changed:,} changed) in {elapsed:.1f} s "
          f"→ {result.scanned / elapsed:,.0f} customers/s")
    print(f"pages: {pages} of {page_size}; runs (continue-as-new every {pages_per_run} pages): "
          f"{-(-pages // pages_per_run)}")
    print(f"worker process RSS: {rss_before / 2**20:.0f} MiB before, peak {peak[0] / 2**20:.0f} MiB during")


def run_bench(n: int, page_size: int, pages_per_run: int) -> None:
    from workers.embedded_pg import bench_database

    temporal_bin = str(Path(sys.prefix, "bin", "temporal"))
    with bench_database() as (url, _):
        asyncio.run(_run(n, page_size, pages_per_run, url, temporal_bin))
