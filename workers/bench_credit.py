"""`lana bench credit`: N facilities through proposal → the customer's acceptance → approval →
collateral → activation → one disbursal, through the API, on a production-shaped stack
(``workers/bench_stack.py``: the API and the worker each in their own process, a Temporal dev
server, an embedded PostgreSQL with durability on); the bench process seeds and plays the clients
(aiohttp on uvloop, so they take little of the two cores from what they measure), which wait on
the event streams for the asynchronous steps (``--wait poll``: re-read the read model every 50 ms).

In the same run, on the same server and worker process, it drives N skeleton facilities
(``workers/bench_workflows.SkeletonFacilityWorkflow``: the same starts, Updates, approval steps and
activities, each activity a no-op, on a task queue of their own), once before and once after the
facilities, and N no-op workflows. It prints facilities/s, the skeleton's rate and the ratio (our
own cost against Temporal's), CPU per facility by process, per-step latency (p50/p99), the
activities' run and schedule-to-start times, and API requests per facility. Asserts nothing about
speed; no access log (level WARNING).
"""

from __future__ import annotations

import asyncio
import json
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


def _ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


class _Response:
    """What the steps read of an answer (its body already read)."""

    def __init__(self, method: str, path: str, status_code: int, body: bytes) -> None:
        self.method, self.path, self.status_code, self.body = method, path, status_code, body

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self):
        return json.loads(self.body)


class _Http:
    """The clients' HTTP through one aiohttp session, counting requests. httpx cost about 3 ms of CPU
    per request on the same two cores as the stack it measures; aiohttp's C parser about a quarter
    of that (as in ``lana bench api``), so the load generator takes less from what it measures."""

    def __init__(self, session) -> None:
        self.session, self.requests = session, 0

    async def _call(self, method: str, path: str, body=None) -> _Response:
        self.requests += 1
        async with self.session.request(method, path, json=body) as r:
            return _Response(method, path, r.status, await r.read())

    def post(self, path: str, json=None):
        return self._call("POST", path, json)

    def get(self, path: str):
        return self._call("GET", path)

    def stream(self, path: str, headers: dict[str, str]):
        self.requests += 1
        return self.session.get(path, headers=headers)


def _ok(r: _Response) -> None:
    if r.is_error:
        raise RuntimeError(f"{r.method} {r.path}: {r.status_code} {r.text}")


async def _one(http: _Http, customer_id: str, steps: Steps, wait: str = "stream") -> str:
    """One facility through the steps; its id."""
    r = await steps.time("proposal", http.post("/api/v1/credit-facility-proposals", json={
        "customer_id": customer_id, "amount": 100_000, "terms": TERMS}))
    _ok(r)
    fid, collateral_id = r.json()["id"], r.json()["collateral_id"]
    r = await steps.time("decision", http.post(f"/api/v1/credit-facility-proposals/{fid}/customer-decision",
                                               json={"approved": True}))
    _ok(r)  # the terms ask for it (the new-product default)
    if wait == "stream":
        await steps.time("→pending", _event(http, f"/api/v1/credit-facility-proposals/{fid}/stream",
                                            {"pending_facility_created"}))
    else:
        await steps.time("→pending", _poll(lambda: http.get(f"/api/v1/pending-credit-facilities/{fid}"),
                                            lambda r: r.status_code == 200))
    r = await steps.time("collateral", http.post(f"/api/v1/collaterals/{collateral_id}/manual-update",
                                                 json={"collateral": 3_000_000}))
    _ok(r)
    assert r.json()["status"] == "ACTIVE", r.text
    r = await steps.time("disbursal", http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 50_000}))
    _ok(r)
    did = r.json()["id"]
    if wait == "stream":
        await steps.time("→confirmed", _event(http, f"/api/v1/disbursals/{did}/stream", {"settled"},
                                              frozenset({"denied", "cancelled", "settlement_failed"})))
    else:
        await steps.time("→confirmed", _poll(lambda: http.get(f"/api/v1/disbursals/{did}"),
                                              lambda r: r.json()["status"] == "CONFIRMED"))
    return fid


async def _skeleton_one(client, task_queue: str, steps: Steps) -> str:
    """One skeleton facility; its workflow id."""
    from workers.bench_workflows import SkeletonFacilityWorkflow as Skeleton

    handle = await steps.time("start", client.start_workflow(
        Skeleton.run, str(uuid.uuid4()), id=f"skeleton-{uuid.uuid4().hex}", task_queue=task_queue))
    await steps.time("decision", handle.execute_update(Skeleton.customer_decision))
    await steps.time("collateral", handle.execute_update(Skeleton.update_collateral))  # waits for pending
    await steps.time("disbursal", handle.execute_update(Skeleton.initiate_disbursal))
    await steps.time("→concluded", handle.result())
    return handle.id


async def _history_line(client, workflow_id: str) -> str:
    """The size of one workflow's history: events, bytes, and the count of each event type."""
    from collections import Counter

    from temporalio.api.enums.v1 import EventType

    history = await client.get_workflow_handle(workflow_id).fetch_history()
    kinds = Counter(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_").lower() for e in history.events)
    size = sum(e.ByteSize() for e in history.events)
    return f"{len(history.events)} events, {size:,} bytes ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})"


async def _event(http, path: str, done: set[str], failed: frozenset[str] = frozenset(),
                 within_s: float = 120.0) -> None:
    """Wait on the resource's event stream for an event of ``done`` (``Last-Event-ID: 0``: its
    stored events first, then live ones, pushed when a step commits; docs/streams.md). One request
    per wait instead of a poll every 50 ms; an event of ``failed`` ends the wait with an error."""
    async with asyncio.timeout(within_s), http.stream(
            path, headers={"Last-Event-ID": "0", "Accept": "text/event-stream"}) as r:
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {await r.text()}")
        async for raw in r.content:  # one line at a time
            line = raw.decode()
            name = line[6:].strip() if line.startswith("event:") else None
            if name in done:
                return
            if name in failed:
                raise RuntimeError(f"{path}: {name}")
    raise RuntimeError(f"{path}: the stream ended")


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


WARMUP = 5
KINDS = ("bench", "api", "worker", "postgres", "temporal")


def _cpu_line(cpu: dict[str, float], n: int) -> str:
    return ", ".join(f"{k} {cpu.get(k, 0.0) / n * 1000:.0f}" for k in KINDS if k in cpu)


def _timings_line(by_name: dict[str, list[float]]) -> str:
    return ", ".join(f"{name} {_ms(v, 0.5)}/{_ms(v, 0.99)}" for name, v in by_name.items())


async def _main(tmp: Path, pg_url: str, pg_pid: int, n: int, concurrency: int, echo,
                waits: tuple[str, ...] = ("stream",)) -> None:
    import aiohttp

    from workers.bench_stack import stack
    from workers.bench_workflows import NoopWorkflow

    async with stack(tmp, pg_url, pg_pid) as st:
        customers = await _customers(st.engine, n * len(waits) + WARMUP + 1)  # + 1: its history shown
        await _price(st.engine)
        connector = aiohttp.TCPConnector(limit=2 * concurrency)
        async with aiohttp.ClientSession(base_url=st.api_url, headers={"Authorization": f"Bearer {st.token}"},
                                         connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
            http = _Http(session)
            sem = asyncio.Semaphore(concurrency)
            cpu: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))  # phase -> kind -> s

            async def timed(phase: str, coro_fn, args: list[tuple]) -> float:
                async def limited(*a):
                    async with sem:
                        await coro_fn(*a)

                before, t0 = st.cpu(), time.perf_counter()
                await asyncio.gather(*[limited(*a) for a in args])
                elapsed, after = time.perf_counter() - t0, st.cpu()
                for kind, used in after.items():
                    cpu[phase][kind] += used - before.get(kind, 0.0)
                return elapsed

            skeleton, warm = Steps(), Steps()
            await timed("warm-up", _skeleton_one, [(st.temporal, st.skeleton_queue, warm)] * WARMUP)
            await timed("warm-up", _one, [(http, c, warm, waits[0]) for c in customers[-WARMUP:]])
            skeleton_s = [await timed("skeleton", _skeleton_one, [(st.temporal, st.skeleton_queue, skeleton)] * n)]
            runs: list[tuple[str, float, int, Steps]] = []  # wait mode, seconds, API requests, steps
            for k, wait in enumerate(waits):
                credit, http.requests = Steps(), 0
                try:
                    credit_s = await timed(f"credit-{wait}", _one,
                                           [(http, c, credit, wait) for c in customers[k * n:(k + 1) * n]])
                except Exception:
                    echo(f"FAILED ({wait}); facility steps so far, ms p50/p99: {credit.line()}")
                    raise
                runs.append((wait, credit_s, http.requests, credit))
            skeleton_s.append(await timed("skeleton", _skeleton_one,
                                          [(st.temporal, st.skeleton_queue, skeleton)] * n))

            async def noop():
                await st.temporal.execute_workflow(NoopWorkflow.run, id=f"noop-{uuid.uuid4().hex}",
                                                   task_queue=st.task_queue)

            noop_s = await timed("noop", noop, [()] * n)
            from workflows.credit_facility import facility_workflow_id

            histories = (await _history_line(st.temporal, facility_workflow_id(await _one(http, customers[-WARMUP - 1],
                                                                                          Steps(), waits[0]))),
                         await _history_line(st.temporal, await _skeleton_one(st.temporal, st.skeleton_queue, Steps())))
    worker = st.worker_timings()
    noop_rate = n / noop_s
    skeleton_rates = [n / s for s in skeleton_s]
    skeleton_rate = sum(skeleton_rates) / len(skeleton_rates)
    echo(f"skeleton (same starts, Updates, approval steps and activities, each a no-op): "
         f"{skeleton_rates[0]:.2f} before, {skeleton_rates[1]:.2f} after → {skeleton_rate:.2f} facilities/s")
    echo(f"no-op workflow: {n} in {noop_s:.1f} s → {noop_rate:.1f} workflows/s")
    echo(f"CPU ms per skeleton facility: {_cpu_line(cpu['skeleton'], 2 * n)}")
    echo(f"skeleton steps, ms p50/p99: {skeleton.line()}")
    for wait, credit_s, credit_requests, credit in runs:
        credit_rate = n / credit_s
        how = "waits on the event streams" if wait == "stream" else "polls every 50 ms"
        echo(f"credit ({how}): {n} facilities (proposal → acceptance → approval → collateral → activation → "
             f"1 disbursal) in {credit_s:.1f} s → {credit_rate:.2f} facilities/s (concurrency {concurrency}); "
             f"{credit_requests / n:.1f} API requests per facility")
        echo(f"  ratio facility/skeleton: {credit_rate / skeleton_rate:.2f}; facility/no-op "
             f"{credit_rate / noop_rate:.3f}")
        echo(f"  CPU ms per facility: {_cpu_line(cpu[f'credit-{wait}'], n)}")
        echo(f"  facility steps, ms p50/p99: {credit.line()}")
    if worker:
        echo(f"facility activities, run ms p50/p99: {_timings_line(worker['facility']['run'])}")
        echo(f"facility activities, scheduled→started ms p50/p99: {_timings_line(worker['facility']['wait'])}")
        echo(f"skeleton activities, scheduled→started ms p50/p99: {_timings_line(worker['skeleton']['wait'])}")
    echo(f"history of one facility (to its disbursal settled): {histories[0]}")
    echo(f"history of one skeleton facility: {histories[1]}")
    echo("(activity figures include the warm-up; figures are of one run on a shared machine: compare within a run)")


def run_bench(n: int, concurrency: int, echo=print, waits: tuple[str, ...] = ("stream",)) -> None:
    from workers.bench_stack import run_in_tmp
    from workers.logging_setup import configure

    configure("WARNING")  # the figures only: no access line per request
    run_in_tmp(lambda tmp, url, pid: _main(tmp, url, pid, n, concurrency, echo, waits))
