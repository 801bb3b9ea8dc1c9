"""`lana bench credit`: N facilities through proposal → the customer's acceptance → approval →
collateral → activation → one disbursal, through the real API (in-process), one worker, a Temporal
dev server, and an embedded PostgreSQL with durability on.

In the same run, on the same server and in the same process, it drives N skeleton facilities
(``workers/bench_workflows.SkeletonFacilityWorkflow``: the same starts, Updates, approval steps and
activities, each activity a no-op, on a worker of their own), once before and once after the
facilities, and N no-op workflows. It prints facilities/s, the skeleton's rate and the ratio (our
own cost against Temporal's), per-step latency (p50/p99) and API requests per facility. Asserts
nothing about speed; the access log is off (level WARNING).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

PRICE = 6_000_000
TERMS = {
    "annual_rate": "12", "duration": {"period": "MONTHS", "units": 3},
    "interest_due_duration_from_accrual": {"period": "DAYS", "units": 0},
    "obligation_overdue_duration_from_due": {"period": "DAYS", "units": 50},
    "obligation_liquidation_duration_from_due": {"period": "DAYS", "units": 360},
    "accrual_cycle_interval": "EndOfMonth", "accrual_interval": "EndOfDay", "one_time_fee_rate": "1",
    "liquidation_cvl": "105", "margin_call_cvl": "125", "initial_cvl": "140", "disbursal_policy": "MultipleDisbursal",
}


class Steps:
    """Per-step latencies (seconds) of one kind of run, printed as p50/p99."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)

    async def time(self, step: str, awaitable):
        t0 = time.perf_counter()
        try:
            return await awaitable
        finally:
            self.seconds[step].append(time.perf_counter() - t0)

    def line(self) -> str:
        return ", ".join(f"{step} {_ms(v, 0.5)}/{_ms(v, 0.99)}" for step, v in self.seconds.items())


def _activity_timings(wait: Steps, run: Steps):
    """A worker interceptor: per activity type, the wait from scheduled to started (a free slot,
    a poller) and the run (our code), into ``wait`` and ``run``."""
    from datetime import UTC, datetime

    from temporalio import activity
    from temporalio.worker import ActivityInboundInterceptor, Interceptor

    class Timed(ActivityInboundInterceptor):
        async def execute_activity(self, input):
            info = activity.info()
            attempt = f"{info.activity_type}" + (f" (attempt {info.attempt})" if info.attempt > 1 else "")
            wait.seconds[attempt].append(
                (datetime.now(UTC) - info.current_attempt_scheduled_time).total_seconds())
            return await run.time(attempt, super().execute_activity(input))

    class Intercept(Interceptor):
        def intercept_activity(self, next):
            return Timed(next)

    return Intercept()


def _ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


def _ok(r) -> None:
    if r.is_error:
        raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")


async def _one(http, customer_id: str, steps: Steps) -> None:
    r = await steps.time("proposal", http.post("/api/v1/credit-facility-proposals", json={
        "customer_id": customer_id, "amount": 100_000, "terms": TERMS}))
    _ok(r)
    fid, collateral_id = r.json()["id"], r.json()["collateral_id"]
    r = await steps.time("decision", http.post(f"/api/v1/credit-facility-proposals/{fid}/customer-decision",
                                               json={"approved": True}))
    _ok(r)  # the terms ask for it (the new-product default)
    await steps.time("→pending", _poll(lambda: http.get(f"/api/v1/pending-credit-facilities/{fid}"),
                                        lambda r: r.status_code == 200))
    r = await steps.time("collateral", http.post(f"/api/v1/collaterals/{collateral_id}/manual-update",
                                                 json={"collateral": 3_000_000}))
    _ok(r)
    assert r.json()["status"] == "ACTIVE", r.text
    r = await steps.time("disbursal", http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 50_000}))
    _ok(r)
    did = r.json()["id"]
    await steps.time("→confirmed", _poll(lambda: http.get(f"/api/v1/disbursals/{did}"),
                                          lambda r: r.json()["status"] == "CONFIRMED"))


async def _skeleton_one(client, task_queue: str, steps: Steps) -> None:
    from workers.bench_workflows import SkeletonFacilityWorkflow as Skeleton

    handle = await steps.time("start", client.start_workflow(
        Skeleton.run, str(uuid.uuid4()), id=f"skeleton-{uuid.uuid4().hex}", task_queue=task_queue))
    await steps.time("decision", handle.execute_update(Skeleton.customer_decision))
    await steps.time("collateral", handle.execute_update(Skeleton.update_collateral))  # waits for pending
    await steps.time("disbursal", handle.execute_update(Skeleton.initiate_disbursal))
    await steps.time("→concluded", handle.result())


async def _poll(fetch, done, attempts: int = 6000) -> None:
    """Re-read until ``done(response)`` (the API is the only view a client has of the workflow)."""
    for _ in range(attempts):
        if done(await fetch()):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("gave up waiting")


async def _customers(engine, n: int) -> list[str]:
    from activities.customers.repository import insert_customer
    from activities.deposits.accounts import open_account
    from domain.customers.model import Customer
    from domain.customers.model import CustomerType as KycCustomerType

    ids = []
    async with engine.begin() as conn:
        for i in range(n):
            customer = Customer.create(str(uuid.uuid4()), f"bench{i}@example.com", f"bench{i}",
                                       KycCustomerType("Individual"), "system:bench")
            await insert_customer(conn, customer)
            await open_account(conn, str(uuid.uuid4()), customer.id, "system:bench", kyc_required=False)
            ids.append(customer.id)
    return ids


async def _price(engine) -> None:
    from datetime import UTC, datetime

    from activities.price import store
    from domain.price.model import PriceQuote, PriceSource

    async with engine.begin() as conn:
        await store.record_observation(conn, PriceQuote(usd_cents_per_btc=PRICE, source=PriceSource.FIXED,
                                                        observed_at=datetime.now(UTC)))


async def _run(n: int, concurrency: int, pg_url: str, temporal_bin: str, data_dir: str, echo) -> None:
    import httpx
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from activities.access_store import ensure_user
    from activities.registry import Deps
    from api.app import create_app
    from api.authn import issue_dev_token
    from ground.db import create_engine
    from ground.settings import Settings
    from workers.bench_workflows import SKELETON_ACTIVITIES, NoopWorkflow, SkeletonFacilityWorkflow
    from workers.worker import build_worker, build_worker_with
    from workflows.search_attributes import ALL_KEYS

    settings = Settings(database_url=pg_url, temporal_task_queue=f"bench-{uuid.uuid4().hex[:8]}", kyc_required=False,
                        auth_dev_signing=True, data_dir=data_dir, log_json=False, log_level="WARNING",
                        price_max_age_seconds=3600)
    skeleton_queue = f"{settings.temporal_task_queue}-skeleton"
    engine = create_engine(pg_url, pool_size=20)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_bin, data_converter=pydantic_data_converter, search_attributes=ALL_KEYS,
        dev_server_log_level="error")
    try:
        customers = await _customers(engine, n)
        await _price(engine)
        app = create_app(settings, engine=engine, temporal_client=env.client)
        waits, runs, skeleton_waits = Steps(), Steps(), Steps()
        worker = build_worker(env.client, Deps(engine=engine, settings=settings), settings.temporal_task_queue,
                              extra_workflows=[NoopWorkflow], interceptors=[_activity_timings(waits, runs)])
        skeleton_worker = build_worker_with(env.client, skeleton_queue, workflows=[SkeletonFacilityWorkflow],
                                            activities=SKELETON_ACTIVITIES,
                                            interceptors=[_activity_timings(skeleton_waits, Steps())])
        async with app.router.lifespan_context(app), worker, skeleton_worker:
            async with engine.begin() as conn:
                user = await ensure_user(conn, settings.bootstrap_admin_email, "superuser", actor="system:bench")
            headers = {"Authorization": f"Bearer {issue_dev_token(settings, user['id'])}"}
            requests = 0

            async def count(_request) -> None:
                nonlocal requests
                requests += 1

            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lana.bench",
                                         headers=headers, timeout=120, event_hooks={"request": [count]}) as http:
                sem = asyncio.Semaphore(concurrency)

                async def limited(coro_fn, *args):
                    async with sem:
                        await coro_fn(*args)

                cpu: dict[str, float] = defaultdict(float)  # this process's CPU seconds (every thread) per phase

                async def timed(coro_fn, *args) -> float:
                    t0, c0 = time.perf_counter(), time.process_time()
                    await asyncio.gather(*[limited(coro_fn, *a) for a in args])
                    cpu[coro_fn.__name__] += time.process_time() - c0
                    return time.perf_counter() - t0

                skeleton, credit = Steps(), Steps()
                skeleton_s = [await timed(_skeleton_one, *[(env.client, skeleton_queue, skeleton)] * n)]
                try:
                    credit_s = await timed(_one, *[(http, c, credit) for c in customers])
                except Exception:
                    echo(f"FAILED; facility steps so far, ms p50/p99: {credit.line()}")
                    echo(f"facility activities, run ms p50/p99: {runs.line()}")
                    echo(f"facility activities, scheduled→started ms p50/p99: {waits.line()}")
                    raise
                skeleton_s.append(await timed(_skeleton_one, *[(env.client, skeleton_queue, skeleton)] * n))

                async def noop():
                    await env.client.execute_workflow(NoopWorkflow.run, id=f"noop-{uuid.uuid4().hex}",
                                                      task_queue=settings.temporal_task_queue)

                noop_s = await timed(noop, *[()] * n)
    finally:
        await env.shutdown()
        await engine.dispose()
    credit_rate, noop_rate = n / credit_s, n / noop_s
    skeleton_rates = [n / s for s in skeleton_s]
    skeleton_rate = sum(skeleton_rates) / len(skeleton_rates)
    echo(f"credit: {n} facilities (proposal → acceptance → approval → collateral → activation → 1 disbursal) in "
         f"{credit_s:.1f} s → {credit_rate:.2f} facilities/s (concurrency {concurrency}); "
         f"{requests / n:.1f} API requests per facility")
    echo(f"skeleton (same starts, Updates, approval steps and activities, each a no-op): "
         f"{skeleton_rates[0]:.2f} before, {skeleton_rates[1]:.2f} after → {skeleton_rate:.2f} facilities/s")
    echo(f"ratio facility/skeleton: {credit_rate / skeleton_rate:.2f}")
    echo(f"this process's CPU per facility (API, worker, client): {cpu['_one'] / n * 1000:.0f} ms; "
         f"per skeleton facility {cpu['_skeleton_one'] / len(skeleton_s) / n * 1000:.0f} ms")
    echo(f"no-op workflow: {n} in {noop_s:.1f} s → {noop_rate:.1f} workflows/s; ratio facility/no-op "
         f"{credit_rate / noop_rate:.3f}")
    echo(f"facility steps, ms p50/p99: {credit.line()}")
    echo(f"skeleton steps, ms p50/p99: {skeleton.line()}")
    echo(f"facility activities, run ms p50/p99: {runs.line()}")
    echo(f"facility activities, scheduled→started ms p50/p99: {waits.line()}")
    echo(f"skeleton activities, scheduled→started ms p50/p99: {skeleton_waits.line()}")


def run_bench(n: int, concurrency: int, echo=print) -> None:
    from activities import migrate
    from workers.embedded_pg import EmbeddedPostgres, free_port
    from workers.logging_setup import configure

    configure("WARNING")  # no access line per request: the figures only (and logging costs what it costs in production)

    temporal_bin = str(Path(sys.prefix, "bin", "temporal"))
    with tempfile.TemporaryDirectory(prefix="lana-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp), free_port())
        if pg.user:
            import shutil

            shutil.chown(tmp, pg.user)
        proc = pg.spawn(stdout=open(Path(tmp) / "postgres.log", "ab"), stderr=open(Path(tmp) / "pg.err", "ab"))  # noqa: SIM115
        try:
            pg.wait_ready(proc)
            pg.create_database("lana_bench")
            migrate.upgrade(pg.url("lana_bench"))
            keys = Path(tmp) / "keys"
            keys.mkdir()
            asyncio.run(_run(n, concurrency, pg.url("lana_bench"), temporal_bin, str(keys), echo))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
