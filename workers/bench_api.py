"""`lana bench api`: a mix of typical operator reads and writes through the API, at 8 and then 32
concurrent clients, each for a fixed time, on the production-shaped stack of
``workers/bench_stack.py`` (API and worker in their own processes, Temporal dev server, embedded
PostgreSQL with durability on).

Seeded first: customers with deposit accounts and deposits, and active credit facilities (through
the API and their workflows). Each client then loops: pick an operation by its weight, send it,
record its latency. Prints requests/s, p50/p99 per route, reads and writes overall, and CPU per
request by process. With ``--route-cost N``, first each route alone: N requests one after another,
the latency and the CPU each process spent per request (where a route's time goes, without
queueing). Asserts nothing about speed; no access log (level WARNING).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

WARMUP_S = 3.0


@dataclass
class Seed:
    customers: list[str]
    accounts: list[str]  # deposit account ids (also their ledger account ids)
    facilities: list[tuple[str, str]]  # (facility id, collateral id)


@dataclass
class Recorder:
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))


# (route as reported, read?, weight, request factory(rng, seed) -> (method, path, json, headers))
def _ops():
    def idem() -> dict[str, str]:
        return {"Idempotency-Key": uuid.uuid4().hex}

    return [
        ("GET /customers", True, 8, lambda r, s: ("GET", "/api/v1/customers", None, {}, {"first": 20})),
        ("GET /customers/{id}", True, 10, lambda r, s: ("GET", f"/api/v1/customers/{r.choice(s.customers)}",
                                                        None, {}, None)),
        ("GET /deposit-accounts/{id}/balance", True, 10, lambda r, s: (
            "GET", f"/api/v1/deposit-accounts/{r.choice(s.accounts)}/balance", None, {}, None)),
        ("GET /deposits?deposit_account_id", True, 5, lambda r, s: (
            "GET", f"/api/v1/deposit-accounts/{r.choice(s.accounts)}/deposits", None, {}, {"first": 20})),
        ("GET /credit-facilities", True, 5, lambda r, s: ("GET", "/api/v1/credit-facilities", None, {},
                                                          {"first": 20})),
        ("GET /credit-facilities/{id}", True, 10, lambda r, s: (
            "GET", f"/api/v1/credit-facilities/{r.choice(s.facilities)[0]}", None, {}, None)),
        ("GET /credit-facilities/{id}/balance", True, 8, lambda r, s: (
            "GET", f"/api/v1/credit-facilities/{r.choice(s.facilities)[0]}/balance", None, {}, None)),
        ("GET /disbursals?credit_facility_id", True, 5, lambda r, s: (
            "GET", "/api/v1/disbursals", None, {}, {"credit_facility_id": r.choice(s.facilities)[0], "first": 20})),
        ("GET /ledger-accounts/{id}/entries", True, 4, lambda r, s: (
            "GET", f"/api/v1/ledger-accounts/{r.choice(s.accounts)}/entries", None, {}, {"first": 20})),
        ("GET /audit-entries", True, 2, lambda r, s: ("GET", "/api/v1/audit-entries", None, {}, {"first": 20})),
        ("POST /deposits", False, 8, lambda r, s: (
            "POST", "/api/v1/deposits", {"deposit_account_id": r.choice(s.accounts), "amount": r.randint(100, 10_000)},
            idem(), None)),
        ("POST /customers", False, 2, lambda r, s: (
            "POST", "/api/v1/customers", {"email": f"{uuid.uuid4().hex[:12]}@bench.example",
                                          "telegram_handle": f"b{uuid.uuid4().hex[:12]}",
                                          "customer_type": "INDIVIDUAL"}, idem(), None)),
        ("POST /collaterals/{id}/manual-update", False, 2, lambda r, s: (
            "POST", f"/api/v1/collaterals/{r.choice(s.facilities)[1]}/manual-update",
            {"collateral": r.randint(3_000_000, 3_100_000)}, {}, None)),
        ("POST /credit-facilities/{id}/disbursals", False, 1, lambda r, s: (
            "POST", f"/api/v1/credit-facilities/{r.choice(s.facilities)[0]}/disbursals", {"amount": 100}, idem(),
            None)),
    ]


async def _seed(st, http, n_customers: int, n_facilities: int) -> Seed:
    from workers.bench_credit import _customers, _one, _price

    customers = await _customers(st.engine, n_customers)
    await _price(st.engine)
    async with st.engine.connect() as conn:
        from sqlalchemy import text

        rows = (await conn.execute(text("SELECT id::text, holder_id::text FROM deposit_accounts"))).all()
    accounts = [r.id for r in rows]
    for account in accounts[:50]:  # some history to list
        r = await http.post("/api/v1/deposits", json={"deposit_account_id": account, "amount": 1_000_000})
        r.raise_for_status()
    import aiohttp

    from workers.bench_credit import Steps, _Http

    async with aiohttp.ClientSession(base_url=st.api_url, headers={"Authorization": f"Bearer {st.token}"},
                                     timeout=aiohttp.ClientTimeout(total=120)) as session:
        ids = await asyncio.gather(*[_one(_Http(session), c, Steps()) for c in customers[:n_facilities]])
    facilities = []
    for fid in ids:
        r = await http.get(f"/api/v1/credit-facilities/{fid}")
        r.raise_for_status()
        facilities.append((fid, r.json()["collateral_id"]))
    return Seed(customers=customers, accounts=accounts, facilities=facilities)


async def _clients(http, seed: Seed, clients: int, seconds: float, rec: Recorder, rng_seed: int) -> int:
    ops = _ops()
    weights = [w for _, _, w, _ in ops]
    deadline = time.perf_counter() + seconds
    done = 0

    async def client(i: int) -> None:
        nonlocal done
        rng = random.Random(rng_seed * 1000 + i)
        while time.perf_counter() < deadline:
            route, _, _, make = rng.choices(ops, weights)[0]
            method, path, body, headers, params = make(rng, seed)
            t0 = time.perf_counter()
            status = await _send(http, method, path, body, headers, params)
            rec.seconds[route].append(time.perf_counter() - t0)
            if status >= 400:
                rec.failures[route][status] += 1
            done += 1

    await asyncio.gather(*[client(i) for i in range(clients)])
    return done


async def _send(http, method: str, path: str, body, headers, params) -> int:
    """One request through the load generator's aiohttp session; the status once the body is read."""
    async with http.request(method, path, json=body, headers=headers, params=params) as r:
        await r.read()
        return r.status


async def _route_costs(http, st, seed: Seed, n: int, echo) -> None:
    """Each route alone, ``n`` sequential requests: p50 latency and CPU ms per request by process."""
    echo(f"\nper route, one client, {n} requests each: p50 ms; CPU ms per request by process")
    for route, _, _, make in _ops():
        rng = random.Random(7)
        for _ in range(5):  # warm: statement caches, prepared statements
            method, path, body, headers, params = make(rng, seed)
            await _send(http, method, path, body, headers, params)
        lat: list[float] = []
        before = st.cpu()
        for _ in range(n):
            method, path, body, headers, params = make(rng, seed)
            t0 = time.perf_counter()
            await _send(http, method, path, body, headers, params)
            lat.append(time.perf_counter() - t0)
        after = st.cpu()
        echo(f"  {route:45s} p50 {_pct(lat, 0.5):6.1f} ms  " + "  ".join(
            f"{k} {(after[k] - before.get(k, 0.0)) / n * 1000:5.2f}" for k in after))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _main(tmp: Path, pg_url: str, pg_pid: int, levels: tuple[int, ...], seconds: float,
                n_customers: int, n_facilities: int, route_cost: int, echo) -> None:
    import aiohttp
    import httpx

    from workers.bench_stack import stack

    reads = {route for route, read, _, _ in _ops() if read}
    async with stack(tmp, pg_url, pg_pid, pool_size=max(levels)) as st:
        limits = httpx.Limits(max_connections=2 * max(levels), max_keepalive_connections=2 * max(levels))
        async with httpx.AsyncClient(base_url=st.api_url, headers={"Authorization": f"Bearer {st.token}"},
                                     timeout=60, limits=limits) as http:
            seed = await _seed(st, http, n_customers, n_facilities)
        echo(f"seeded: {len(seed.customers)} customers with deposit accounts, {len(seed.facilities)} active "
             f"facilities; mix: " + ", ".join(f"{route} ×{w}" for route, _, w, _ in _ops()))
        # The load itself through aiohttp: httpx cost 2-4 ms of CPU per request on the same two cores
        # as the stack it measures; aiohttp's C parser about a quarter of that.
        connector = aiohttp.TCPConnector(limit=2 * max(levels))
        async with aiohttp.ClientSession(base_url=st.api_url, connector=connector,
                                         headers={"Authorization": f"Bearer {st.token}"},
                                         timeout=aiohttp.ClientTimeout(total=60)) as http:
            await _clients(http, seed, min(levels), WARMUP_S, Recorder(), 0)
            if route_cost:
                await _route_costs(http, st, seed, route_cost, echo)
            for level in levels:
                rec = Recorder()
                before, t0 = st.cpu(), time.perf_counter()
                done = await _clients(http, seed, level, seconds, rec, level)
                elapsed, after = time.perf_counter() - t0, st.cpu()
                read_s = [v for route, vs in rec.seconds.items() if route in reads for v in vs]
                write_s = [v for route, vs in rec.seconds.items() if route not in reads for v in vs]
                echo(f"\n{level} clients, {elapsed:.0f} s: {done / elapsed:.0f} requests/s; "
                     f"reads p50 {_pct(read_s, 0.5):.1f} ms p99 {_pct(read_s, 0.99):.1f} ms ({len(read_s)}); "
                     f"writes p50 {_pct(write_s, 0.5):.1f} ms p99 {_pct(write_s, 0.99):.1f} ms ({len(write_s)})")
                echo("  CPU ms per request: " + ", ".join(
                    f"{k} {(after[k] - before.get(k, 0.0)) / done * 1000:.2f}" for k in after))
                for route, _, _, _ in _ops():
                    vs = rec.seconds.get(route)
                    if vs:
                        failed = dict(rec.failures.get(route, {}))
                        echo(f"  {route:45s} n={len(vs):6d}  p50 {_pct(vs, 0.5):7.1f} ms  p99 {_pct(vs, 0.99):7.1f} ms"
                             + (f"  errors {failed}" if failed else ""))
    echo("(one run on a shared machine: compare figures within a run)")


def run_bench(levels: tuple[int, ...], seconds: float, customers: int, facilities: int, echo=print,
              route_cost: int = 0) -> None:
    from workers.bench_stack import run_in_tmp
    from workers.logging_setup import configure

    configure("WARNING")
    run_in_tmp(lambda tmp, url, pid: _main(tmp, url, pid, levels, seconds, customers, facilities, route_cost, echo))
