"""`lana bench credit`: N facilities through proposal → the customer's acceptance → approval →
collateral → activation → one disbursal, through the real API (in-process), one worker, a Temporal dev server, and an embedded
PostgreSQL with durability on. Prints facilities completed per second next to the rate of a no-op
workflow on the same server in the same run, and the ratio. Asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
import time
import uuid
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


async def _one(http, customer_id: str) -> None:
    r = await http.post("/api/v1/credit-facility-proposals",
                        json={"customer_id": customer_id, "amount": 100_000, "terms": TERMS})
    r.raise_for_status()
    fid, collateral_id = r.json()["id"], r.json()["collateral_id"]
    r = await http.post(f"/api/v1/credit-facility-proposals/{fid}/customer-decision", json={"approved": True})
    r.raise_for_status()  # the terms ask for it (the new-product default)
    await _poll(lambda: http.get(f"/api/v1/pending-credit-facilities/{fid}"), lambda r: r.status_code == 200)
    r = await http.post(f"/api/v1/collaterals/{collateral_id}/manual-update", json={"collateral": 3_000_000})
    r.raise_for_status()
    assert r.json()["status"] == "Active", r.text
    r = await http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 50_000})
    r.raise_for_status()
    did = r.json()["id"]
    await _poll(lambda: http.get(f"/api/v1/disbursals/{did}"), lambda r: r.json()["status"] == "Confirmed")


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


async def _run(n: int, concurrency: int, pg_url: str, temporal_bin: str, data_dir: str) -> None:
    import httpx
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from activities.access_store import ensure_user
    from activities.registry import Deps
    from api.app import create_app
    from api.authn import issue_dev_token
    from ground.db import create_engine
    from ground.settings import Settings
    from workers.bench_workflows import NoopWorkflow
    from workers.worker import build_worker
    from workflows.search_attributes import ALL_KEYS

    settings = Settings(database_url=pg_url, temporal_task_queue=f"bench-{uuid.uuid4().hex[:8]}", kyc_required=False,
                        auth_dev_signing=True, data_dir=data_dir, log_json=False, log_level="WARNING",
                        price_max_age_seconds=3600)
    engine = create_engine(pg_url, pool_size=20)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_bin, data_converter=pydantic_data_converter, search_attributes=ALL_KEYS,
        dev_server_log_level="error")
    try:
        customers = await _customers(engine, n)
        await _price(engine)
        app = create_app(settings, engine=engine, temporal_client=env.client)
        worker = build_worker(env.client, Deps(engine=engine, settings=settings), settings.temporal_task_queue,
                              extra_workflows=[NoopWorkflow])
        async with app.router.lifespan_context(app), worker:
            async with engine.begin() as conn:
                user = await ensure_user(conn, settings.bootstrap_admin_email, "superuser", actor="system:bench")
            headers = {"Authorization": f"Bearer {issue_dev_token(settings, user['id'])}"}
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lana.bench",
                                         headers=headers, timeout=120) as http:
                sem = asyncio.Semaphore(concurrency)

                async def limited(coro_fn, *args):
                    async with sem:
                        await coro_fn(*args)

                t0 = time.perf_counter()
                await asyncio.gather(*[limited(_one, http, c) for c in customers])
                credit_s = time.perf_counter() - t0

                async def noop():
                    await env.client.execute_workflow(NoopWorkflow.run, id=f"noop-{uuid.uuid4().hex}",
                                                      task_queue=settings.temporal_task_queue)

                t1 = time.perf_counter()
                await asyncio.gather(*[limited(noop) for _ in range(n)])
                noop_s = time.perf_counter() - t1
    finally:
        await env.shutdown()
        await engine.dispose()
    credit_rate, noop_rate = n / credit_s, n / noop_s
    print(f"credit: {n} facilities (proposal → acceptance → approval → collateral → activation → 1 disbursal) in {credit_s:.1f} s"
          f" → {credit_rate:.1f} facilities/s (concurrency {concurrency})")
    print(f"no-op workflow: {n} in {noop_s:.1f} s → {noop_rate:.1f} workflows/s (same server, same worker)")
    print(f"ratio facility/no-op: {credit_rate / noop_rate:.3f} (one facility = {noop_rate / credit_rate:.1f} no-ops)")


def run_bench(n: int, concurrency: int) -> None:
    import logging

    from activities import migrate

    logging.getLogger("lana.access").setLevel(logging.WARNING)  # one line per request would drown the figures
    from workers.embedded_pg import EmbeddedPostgres, free_port

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
            asyncio.run(_run(n, concurrency, pg.url("lana_bench"), temporal_bin, str(keys)))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
