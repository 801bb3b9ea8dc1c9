"""`lana bench audit`: authorized reads per second through the API, auditing on vs off.

Runs on a throw-away embedded PostgreSQL (durability on), the real app in-process (ASGI, no
network), an admin token, and ``GET /api/v1/roles/{id}`` (authenticate → policy-version check →
casbin → [audit insert] → one read). Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from activities import migrate
from activities.access_store import ensure_user
from api.app import create_app
from api.authn import issue_dev_token
from domain.access.permissions import predefined_role_id
from ground.db import create_engine
from ground.settings import Settings
from workers.embedded_pg import EmbeddedPostgres, free_port


async def _run(app, token: str, n: int, concurrency: int) -> float:
    path = f"/api/v1/roles/{predefined_role_id('accountant')}"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        queue = list(range(n))

        async def worker():
            while queue:
                queue.pop()
                r = await http.get(path)
                if r.status_code != 200:
                    raise RuntimeError(f"unexpected {r.status_code}: {r.text}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - start)


async def _bench(url: str, data_dir: Path, n: int, concurrency: int) -> None:
    engine = create_engine(url, pool_size=concurrency, max_overflow=4)
    base = {"environment": "bench", "database_url": url, "data_dir": data_dir, "auth_dev_signing": True,
            "audit_seal_interval_s": 1.0, "log_json": False}
    apps = {"on": create_app(Settings(**base, audit_enabled=True), engine=engine),
            "off": create_app(Settings(**base, audit_enabled=False), engine=engine)}
    async with apps["on"].router.lifespan_context(apps["on"]), apps["off"].router.lifespan_context(apps["off"]):
        async with engine.begin() as conn:
            user = await ensure_user(conn, "bench@lana.local", "admin", actor="system:bench")
        token = issue_dev_token(Settings(**base), user["id"], ttl_s=3600)
        await _run(apps["on"], token, 200, concurrency)  # warm-up
        await _run(apps["off"], token, 200, concurrency)
        results: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(3):
            for mode in ("on", "off"):
                results[mode].append(await _run(apps[mode], token, n, concurrency))
        async with engine.connect() as conn:
            t = time.perf_counter()
            for _ in range(1000):
                await conn.execute(text("SELECT version FROM access_policy_version WHERE id = 1"))
            check_us = (time.perf_counter() - t) * 1000
            entries = (await conn.execute(text("SELECT count(*) FROM audit_entries"))).scalar()
    await engine.dispose()
    print(f"authorized reads/s, GET /roles/{{id}}, {n} requests x 3 runs, concurrency {concurrency}:")
    print(f"{'':10}{'audit on':>12}{'audit off':>12}")
    for i in range(3):
        print(f"{'run ' + str(i + 1):10}{results['on'][i]:>12.0f}{results['off'][i]:>12.0f}")
    on, off = statistics.median(results["on"]), statistics.median(results["off"])
    print(f"{'median':10}{on:>12.0f}{off:>12.0f}   (auditing costs {100 * (1 - on / off):.0f}%)")
    print(f"policy-version check alone: {check_us:.0f} us per request (1000 sequential queries); "
          f"audit entries written: {entries}")


async def main(n: int, concurrency: int) -> None:
    import logging

    logging.getLogger("lana.access").setLevel(logging.WARNING)  # keep the figures readable
    with tempfile.TemporaryDirectory(prefix="lana-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp), free_port())
        log = open(Path(tmp) / "postgres.log", "ab")  # noqa: SIM115, ASYNC230
        proc = pg.spawn(stdout=log, stderr=log)
        try:
            pg.wait_ready(proc)
            pg.create_database("bench")
            await asyncio.to_thread(migrate.upgrade, pg.url("bench"))
            await _bench(pg.url("bench"), Path(tmp), n, concurrency)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
            log.close()
