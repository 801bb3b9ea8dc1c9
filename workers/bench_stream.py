"""`lana bench stream`: N open SSE streams (``GET /api/v1/price/stream``) on one API process while
the price changes every second, on the production-shaped stack of ``workers/bench_stack.py`` (API
and worker in their own processes, embedded PostgreSQL with durability on).

The bench records each price change itself (``activities.price.store.record_observation``, one
transaction, the feed's own code path) and notes the instant just after its commit; every client
notes when the matching ``price_updated`` event (by its sequence, the price's version) reaches it.
Delivery latency = arrival - commit, over every (client, change). Prints p50/p99/max, events lost
(expected minus received), the API process's RSS (idle, with the streams open, at the end) and its
CPU seconds per second of streaming. Figures only: nothing is asserted about speed. The clients
run in this process on the same two cores, so latencies include their own scheduling.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import psutil


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def _client(http, url: str, headers: dict, arrivals: dict[int, list[float]], opened: asyncio.Event,
                  counter: list[int], n: int, stop: asyncio.Event) -> None:
    async with http.stream("GET", url, headers=headers) as r:
        r.raise_for_status()
        counter[0] += 1
        if counter[0] == n:
            opened.set()
        data = None
        async for line in r.aiter_lines():
            if line.startswith("data:"):
                data = line[5:].strip()
            elif line == "" and data is not None:
                arrivals.setdefault(json.loads(data)["sequence"], []).append(time.perf_counter())
                data = None
            if stop.is_set():
                return


async def _main(tmp, pg_url, pg_pid, clients: int, seconds: float, echo) -> None:
    import httpx

    from activities.price import store
    from domain.price.model import PriceQuote, PriceSource
    from workers.bench_stack import stack

    async with stack(tmp, pg_url, pg_pid, pool_size=10, extra_env={"LANA_PRICE_SOURCE": "manual"}) as s:
        api = psutil.Process(s.pids["api"])
        rss_idle = api.memory_info().rss
        arrivals: dict[int, list[float]] = {}
        opened, stop, counter = asyncio.Event(), asyncio.Event(), [0]
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=s.api_url, limits=limits,
                                     timeout=httpx.Timeout(30, read=None, pool=None)) as http:
            headers = {"Authorization": f"Bearer {s.token}"}
            t_open = time.perf_counter()
            tasks = [asyncio.create_task(_client(http, "/api/v1/price/stream", headers, arrivals, opened, counter,
                                                 clients, stop)) for _ in range(clients)]
            await asyncio.wait_for(opened.wait(), timeout=120)
            echo(f"{clients} streams open in {time.perf_counter() - t_open:.1f} s")
            await asyncio.sleep(1.0)  # the last subscriptions reach the hub
            rss_open = api.memory_info().rss
            commits: dict[int, float] = {}
            me = psutil.Process()
            cpu0, me0, t0 = api.cpu_times(), me.cpu_times(), time.perf_counter()
            price = 6_000_000
            for i in range(int(seconds)):
                tick_at = t0 + i
                await asyncio.sleep(max(0.0, tick_at - time.perf_counter()))
                price += 100 if i % 2 == 0 else -50  # a change every second
                async with s.engine.begin() as conn:
                    await store.record_observation(conn, PriceQuote(
                        usd_cents_per_btc=price, source=PriceSource.MANUAL, observed_at=datetime.now(UTC)))
                    version = (await conn.execute(store.price_latest.select())).first().version
                commits[version] = time.perf_counter()  # just after the commit
            await asyncio.sleep(2.0)  # the last change reaches everyone
            elapsed = time.perf_counter() - t0
            cpu1, me1 = api.cpu_times(), me.cpu_times()
            rss_end = api.memory_info().rss
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    latencies = [(at - commits[seq]) * 1000 for seq, ats in arrivals.items() if seq in commits for at in ats]
    expected = clients * len(commits)
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    echo(f"price changes: {len(commits)} over {elapsed:.1f} s; deliveries {len(latencies)} of {expected} "
         f"({expected - len(latencies)} missing)")
    echo(f"delivery latency ms: p50 {_pct(latencies, 50):.1f}  p99 {_pct(latencies, 99):.1f}  "
         f"max {max(latencies, default=float('nan')):.1f}")
    echo(f"API RSS MiB: idle {rss_idle / 2**20:.0f}, {clients} streams open {rss_open / 2**20:.0f}, "
         f"end {rss_end / 2**20:.0f} ({(rss_open - rss_idle) / max(clients, 1) / 1024:.1f} KiB per stream)")
    echo(f"API CPU: {cpu:.2f} s over {elapsed:.1f} s ({100 * cpu / elapsed:.1f} % of one core; "
         f"{1000 * cpu / max(len(latencies), 1):.3f} ms per delivered event)")
    clients_cpu = (me1.user + me1.system) - (me0.user + me0.system)
    echo(f"bench clients' CPU (same machine): {clients_cpu:.2f} s ({100 * clients_cpu / elapsed:.1f} % of one core)")
    echo("(2 shared cores, clients in the bench process: noisy figures, compare runs side by side)")


def run_bench(clients: int, seconds: float, *, echo=print) -> None:
    from workers.bench_stack import run_in_tmp

    async def main(tmp, pg_url, pg_pid):
        await _main(tmp, pg_url, pg_pid, clients, seconds, echo)

    run_in_tmp(main)
