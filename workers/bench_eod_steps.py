"""`lana bench eod-steps`: the end-of-day steps' throughput on N facilities (no workflow).

Self-contained: an embedded PostgreSQL (durability on) in a temporary directory. One facility is
made through the credit operations (lana's default product, $10,000 drawn at activation on
2025-01-27: monthly cycle, daily accrual); N − 1 copies of it are then seeded in bulk SQL
(``workers/bench_seed.py``: every row the facility left behind, ledger included), so every
facility is due the same work. The business dates Jan 27–30 (one accrual each) and Jan 31 (accrual, cycle
completion, interest obligation due) are run step by step, page by page, with ``run_page``
exactly as the ``EndOfDay`` workflow's activity calls it; the ordinary days alternate between the
given page sizes (interleaved, so the machine's noise hits each alike), and after each day the
ledger alone posts as many two-entry postings in one transaction (the ceiling the steps work
under: their postings still go one ``ledger.post`` at a time). Prints figures; asserts nothing
about speed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from workers.bench_seed import seed_facilities

ACTIVATED = date(2025, 1, 27)
# The benchmark server, sized like a production one for its batch window rather than PostgreSQL's
# defaults: a checkpoint every 1 GB of WAL (the default) makes every random-key index page written
# after it a full-page image, several times per run at 100,000 facilities; and 128 MB of shared
# buffers hold 4 % of the 100,000-facility database (3.3 GB), so the day's random walk over
# facilities, cycles, balances and entries reads most pages back from the OS and the backends write
# dirty pages themselves (measured: PostgreSQL CPU per facility 478 µs at 128 MB, 362 µs at 1 GB).
# 1 GB is 4 % of this machine's memory.
BENCH_PG_CONF = ("max_wal_size=8GB", "checkpoint_timeout=30min", "shared_buffers=1GB")
DAYS = [date(2025, 1, d) for d in (27, 28, 29, 30, 31)]

async def _template(engine) -> str:
    """One facility through the credit operations (the path the facility workflow takes)."""
    from activities.credit import operations
    from activities.customers.repository import insert_customer
    from activities.deposits.accounts import open_account
    from activities.price import store
    from domain.credit.messages import ActivateInput, CollateralInput, ConcludeProposal
    from domain.credit.terms import TermValues
    from domain.customers.model import Customer, CustomerType
    from domain.price.model import PriceQuote, PriceSource

    now, max_age, fid = datetime.combine(ACTIVATED, dtime(10), tzinfo=UTC), timedelta(minutes=5), str(uuid.uuid4())
    terms = TermValues.model_validate({
        "annual_rate": "12", "duration": {"period": "MONTHS", "units": 3},
        "interest_due_duration_from_accrual": {"period": "DAYS", "units": 0},
        "obligation_overdue_duration_from_due": {"period": "DAYS", "units": 50},
        "obligation_liquidation_duration_from_due": {"period": "DAYS", "units": 360},
        "accrual_cycle_interval": "EndOfMonth", "accrual_interval": "EndOfDay", "one_time_fee_rate": "0",
        "liquidation_cvl": "105", "margin_call_cvl": "125", "initial_cvl": "140", "disbursal_policy": "SingleDisbursal"})
    async with engine.begin() as conn:
        await store.record_observation(conn, PriceQuote(usd_cents_per_btc=6_000_000, source=PriceSource.FIXED,
                                                        observed_at=datetime.now(UTC)))
        customer = Customer.create(str(uuid.uuid4()), "bench@example.com", "bench", CustomerType("Individual"),
                                   "system:bench")
        await insert_customer(conn, customer)
        await open_account(conn, str(uuid.uuid4()), customer.id, "system:bench", kyc_required=False)
        await operations.create_proposal(conn, fid, customer.id, 1_000_000, terms, None, "bench", kyc_required=False)
    steps = [lambda c: operations.conclude_proposal(c, ConcludeProposal(facility_id=fid, approved=True, now=now), None),
             lambda c: operations.record_collateral(c, CollateralInput(facility_id=fid, seq=1, collateral_sats=10**8,
                                                                       actor="bench", now=now), max_age),
             lambda c: operations.activate(c, ActivateInput(facility_id=fid, now=now), max_age, None)]
    for step in steps:
        async with engine.begin() as conn:
            await step(conn)
    return fid


async def _baseline_accounts(engine, n: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    from activities import ledger

    pairs = [(uuid.uuid4(), uuid.uuid4()) for _ in range(n)]
    async with engine.begin() as conn:
        for a, b in pairs:
            await ledger.create_account(conn, id=a, code=f"bench-{a}", name="bench", normal_balance="debit")
            await ledger.create_account(conn, id=b, code=f"bench-{b}", name="bench", normal_balance="credit")
    return pairs


async def _baseline(engine, pairs, tag: str) -> float:
    """The ledger alone: one two-entry posting per pair of distinct accounts, in one transaction
    (what a page of accruals costs the ledger, without the step around it)."""
    from activities import ledger

    t = time.perf_counter()
    async with engine.begin() as conn:
        for i, (a, b) in enumerate(pairs):
            await ledger.post(conn, "TRANSFER", {"from_account_id": a, "to_account_id": b, "amount": 1},
                              idempotency_key=f"bench:{tag}:{i}")
    return time.perf_counter() - t


async def _run(n: int, page_sizes: list[int], pg_url: str) -> None:
    from activities.credit.end_of_day import run_page
    from domain.credit.end_of_day import STEPS
    from ground.db import create_engine

    engine = create_engine(pg_url, pool_size=2)
    t0 = time.perf_counter()
    template = await _template(engine)
    await seed_facilities(engine, template, n - 1)
    pairs = await _baseline_accounts(engine, max(page_sizes))
    print(f"seeded {n:,} facilities in {time.perf_counter() - t0:.1f} s")
    print(f"{'date':<11} {'step':<23} {'page':>5} {'entities':>9} {'pages':>6} {'seconds':>8} {'per s':>8}")
    totals: dict[int, list[float]] = {}
    baselines: list[float] = []
    for i, day in enumerate(DAYS):
        limit = page_sizes[i % len(page_sizes)] if day != DAYS[-1] else max(page_sizes)
        day_s = 0.0
        for step in STEPS:
            after, pages, done, failures, t = None, 0, 0, 0, time.perf_counter()
            while True:
                page = await run_page(engine, step, day, after, limit)
                pages, done, failures = pages + 1, done + page.processed, failures + len(page.failures)
                if page.next_after is None:
                    break
                after = page.next_after
            s = time.perf_counter() - t
            day_s += s
            rate = f"{done / s:,.0f}" if done else "-"
            print(f"{day!s:<11} {step.value:<23} {limit:>5} {done:>9,} {pages:>6} {s:>8.2f} {rate:>8}"
                  + (f"  ({failures} failures)" if failures else ""))
        if day != DAYS[-1]:
            totals.setdefault(limit, []).append(day_s)
        print(f"{day!s:<11} {'whole day':<23} {limit:>5} {'':>9} {'':>6} {day_s:>8.2f} {n / day_s:>8,.0f}")
        base = await _baseline(engine, pairs, str(day))
        print(f"{day!s:<11} {'ledger.post alone':<23} {'':>5} {len(pairs):>9,} {1:>6} {base:>8.2f} "
              f"{len(pairs) / base:>8,.0f}")
        baselines.append(len(pairs) / base)
    for limit, runs in sorted(totals.items()):
        print(f"ordinary day, page {limit}: {', '.join(f'{s:.2f}' for s in runs)} s "
              f"→ {n / min(runs):,.0f} facilities/s at best")
    print(f"ledger.post alone (same runs): {', '.join(f'{b:,.0f}' for b in baselines)} postings/s")
    await engine.dispose()


def run_bench(n: int, page_sizes: list[int]) -> None:
    from workers.embedded_pg import bench_database

    with bench_database(extra_conf=BENCH_PG_CONF) as (url, _):
        asyncio.run(_run(n, page_sizes, url))
