"""`lana bench ledger`: ledger posting throughput against pgbench on the same server.

Starts its own embedded PostgreSQL with durability ON (fsync, synchronous_commit, full_page_writes
defaults), creates 1,000 accounts under a two-level account-set hierarchy (chart root → 10 nodes →
100 product accounts each), then for 1, 8 and 32 concurrent posters and a fixed time each posts:

* ``uniform``: TRANSFER between two random accounts;
* ``hot``: TRANSFER between the omnibus account and a random account (every posting touches it: a
  control-free account, so its balance spreads over stripes, docs/ledger.md);
* ``batch100`` / ``batch1000``: ``activities.ledger.post_many`` with 100 / 1,000 uniform TRANSFERs
  per call (one ``ledger_post_batch()`` round trip); tx/s counts transactions, p50/p99 are per call.

Each poster holds its own asyncpg connection and calls ``activities.ledger.post`` (template
evaluation + one ``ledger_post()`` call in autocommit = one round trip). pgbench's built-in
``simple-update`` script runs on the same server with the same client counts as the reference.

``compare_revision`` (``--compare-revision 0011_ledger_post_lean``) adds a second database migrated
down to that revision (an earlier ``ledger_post``, same client code) and runs every single-posting
cell on both, back to back in alternating order, so before/after figures come from one run on one
server. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from alembic import command

from activities import ledger, migrate
from ground.db import create_engine
from workers import event_loop
from workers.embedded_pg import EmbeddedPostgres, bin_path, free_port

N_ACCOUNTS, N_NODES = 1_000, 10


async def _setup(url: str) -> tuple[uuid.UUID, list[uuid.UUID], uuid.UUID]:
    engine = create_engine(url)
    omni, accounts, root = uuid.uuid4(), [], uuid.uuid4()
    async with engine.begin() as conn:
        await ledger.create_account_set(conn, id=root, name="Chart root", normal_balance="credit")
        await ledger.create_account(conn, id=omni, code="omnibus", name="Omnibus", normal_balance="debit")
        await ledger.add_member(conn, root, omni)
        for n in range(N_NODES):
            node = uuid.uuid4()
            await ledger.create_account_set(conn, id=node, name=f"Node {n}", normal_balance="credit")
            await ledger.add_member(conn, root, node)
            for _ in range((N_ACCOUNTS - 1) // N_NODES + (1 if n < (N_ACCOUNTS - 1) % N_NODES else 0)):
                aid = uuid.uuid4()
                await ledger.create_account(conn, id=aid, code=str(aid), name=f"Product {aid}")
                await ledger.add_member(conn, node, aid)
                accounts.append(aid)
    await engine.dispose()
    return omni, accounts, root


def _transfer(rnd: random.Random, pick) -> ledger.Posting:
    src, dst = pick(rnd)
    return ledger.Posting("TRANSFER", {"from_account_id": src, "to_account_id": dst, "amount": rnd.randint(1, 10_000)},
                          idempotency_key=f"bench:{uuid.uuid4()}")


async def _run_case(dsn: str, clients: int, seconds: float, pick, batch: int = 0) -> tuple[int, list[float], int]:
    """Postings per second over ``seconds``, latency per call, failed calls (or refused postings)."""
    pool = await asyncpg.create_pool(dsn, min_size=clients, max_size=clients)
    latencies: list[float] = []
    errors = posted = 0
    deadline = time.perf_counter() + seconds

    async def poster(i: int) -> None:
        nonlocal errors, posted
        rnd = random.Random(i)
        async with pool.acquire() as conn:
            while time.perf_counter() < deadline:
                items = [_transfer(rnd, pick) for _ in range(batch or 1)]
                t0 = time.perf_counter()
                try:
                    if batch:
                        results = await ledger.post_many(conn, items)
                        ok = sum(r.status == "posted" for r in results)
                        errors += len(results) - ok
                    else:
                        it = items[0]
                        await ledger.post(conn, it.template_code, it.params, idempotency_key=it.idempotency_key)
                        ok = 1
                except Exception:  # noqa: BLE001 - counted and reported
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                posted += ok

    start = time.perf_counter()
    await asyncio.gather(*(poster(i) for i in range(clients)))
    elapsed = time.perf_counter() - start
    await pool.close()
    return int(posted / elapsed), latencies, errors


def _pick(case: str, omni: uuid.UUID, accounts: list[uuid.UUID]):
    if case == "hot":
        return lambda r: (omni, r.choice(accounts)) if r.random() < 0.5 else (r.choice(accounts), omni)
    return lambda r: tuple(r.sample(accounts, 2))


def _run(coro):
    """Run on uvloop when available (as the API does under uvicorn[standard]): less client CPU."""
    return event_loop.run(coro)


def _pgbench(server: EmbeddedPostgres, clients: int, seconds: float) -> float:
    out = subprocess.run(
        [bin_path("pgbench"), "-h", server.host, "-p", str(server.port), "-U", "postgres", "-b", "simple-update",
         "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(int(seconds)), "pgbench"],
        check=True, capture_output=True, text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else 0.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


async def _set_read_ms(url: str, root: uuid.UUID) -> tuple[float, float]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        await ledger.set_balances(conn, root)
        t0 = time.perf_counter()
        for _ in range(5):
            await ledger.set_balances(conn, root)
        t1 = time.perf_counter()
        for _ in range(5):
            await ledger.set_balances(conn, root, as_of=dt.datetime.now(dt.UTC))
        t2 = time.perf_counter()
    await engine.dispose()
    return (t1 - t0) / 5 * 1000, (t2 - t1) / 5 * 1000


def run(seconds: float = 10.0, client_counts: tuple[int, ...] = (1, 8, 32), echo=print,
        batch_sizes: tuple[int, ...] = (100, 1000), compare_revision: str | None = None) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="lana-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp), free_port())  # durability ON: fsync, synchronous_commit
        proc = server.spawn(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            server.wait_ready(proc)
            server.create_database("ledger")
            server.create_database("pgbench")
            migrate.upgrade(server.url("ledger"))
            subprocess.run([bin_path("pgbench"), "-h", server.host, "-p", str(server.port), "-U", "postgres",
                            "-i", "-s", "1", "-q", "pgbench"], check=True, capture_output=True)
            dbs = {"": server.dsn("ledger")}
            setups = {"": asyncio.run(_setup(server.url("ledger")))}
            if compare_revision:
                server.create_database("ledger_before")
                migrate.upgrade(server.url("ledger_before"))
                command.downgrade(migrate.alembic_config(server.url("ledger_before")), compare_revision)
                dbs[compare_revision] = server.dsn("ledger_before")
                setups[compare_revision] = asyncio.run(_setup(server.url("ledger_before")))
            omni, accounts, root = setups[""]
            echo(f"1 omnibus + {len(accounts)} product accounts under root → {N_NODES} nodes; "
                 f"{seconds:.0f} s per cell; synchronous_commit=on")
            for rev, dsn in dbs.items():  # warm caches and the plan of every poster's session
                _run(_run_case(dsn, 4, min(seconds, 3.0), _pick("uniform", *setups[rev][:2])))
            rows = []
            for clients in client_counts:
                # pgbench right before the ledger cells with the same client count, so both see
                # the same background load on a shared machine.
                pg_tps = _pgbench(server, clients, seconds)
                for name, batch in [("uniform", 0), ("hot", 0), *((f"batch{b}", b) for b in batch_sizes)]:
                    revs = list(dbs) if not batch else [""]  # an earlier revision has no ledger_post_batch
                    if len(rows) % 2:
                        revs.reverse()
                    for rev in revs:
                        o, accts, _ = setups[rev]
                        pick = _pick(name, o, accts)
                        tps, lat, errors = _run(_run_case(dbs[rev], clients, seconds, pick, batch))
                        rows.append({"case": name + (f"@{rev[:4]}" if rev else ""), "clients": clients, "tps": tps,
                                     "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "errors": errors,
                                     "pgbench_tps": pg_tps, "ratio": tps / pg_tps if pg_tps else float("nan")})
                        echo(_fmt(rows[-1]))
            cur_ms, asof_ms = asyncio.run(_set_read_ms(server.url("ledger"), root))
            echo(f"chart-root set balance read (1,000 accounts, read-time roll-up): current {cur_ms:.1f} ms, "
                 f"as-of {asof_ms:.1f} ms")
            return rows
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)


def _fmt(r: dict) -> str:
    per = " per call" if r["case"].startswith("batch") else ""
    return (f"{r['case']:<12} clients={r['clients']:>2}  ledger {r['tps']:>6} tx/s  p50 {r['p50_ms']:7.2f} ms  "
            f"p99 {r['p99_ms']:7.2f} ms{per}  errors {r['errors']}  | pgbench simple-update {r['pgbench_tps']:8.0f} tps"
            f"  ratio {r['ratio']:.2f}")
