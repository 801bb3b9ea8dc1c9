"""`lana bench dashboard`: what one poll of ``GET /dashboard`` and ``GET /portfolio`` costs the
database on N facilities, with and without migration 0102's covering indexes.

Self-contained: an embedded PostgreSQL in a temporary directory; one facility made through the
credit operations, N − 1 copies seeded in bulk (``workers/bench_seed.py``), then the principal
obligations spread over the statuses by id (a quarter each of not yet due, due, overdue,
defaulted, due dates spread over 120 days) and half as many paid obligations added (a book keeps
its paid obligations forever). The two reads (``activities/dashboard/store.py``, exactly what the
routes run) are timed in rounds that alternate between the index present and dropped, so the
machine's noise hits both alike. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import date

from sqlalchemy import text

from workers.bench_eod_steps import BENCH_PG_CONF, _template
from workers.bench_seed import seed_facilities

INDEXES = {  # migration 0102_dashboard_indexes
    "ix_credit_obligations_open": "CREATE INDEX ix_credit_obligations_open ON credit_obligations (status) "
                                  "INCLUDE (due_date, outstanding_cents) WHERE status <> 'Paid'",
    "ix_credit_facilities_dashboard": "CREATE INDEX ix_credit_facilities_dashboard ON credit_facilities "
                                      "(stage, status, pending_status) INCLUDE (disbursed_cents, collateral_sats) "
                                      "WHERE stage IN ('pending', 'active')",
}
AS_OF = date(2025, 6, 30)


async def _spread(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(
            "UPDATE credit_obligations SET status = (ARRAY['NotYetDue','Due','Overdue','Defaulted'])"
            "[1 + abs(hashtext(id::text)) % 4], due_date = DATE '2025-06-30' - (abs(hashtext(id::text)) % 120)"))
        await conn.execute(text(
            "INSERT INTO credit_obligations (id, facility_id, disbursal_id, obligation_type, amount_cents, "
            "outstanding_cents, status, reference, effective, due_date, version) "
            "SELECT gen_random_uuid(), facility_id, NULL, 'Interest', 100, 0, 'Paid', 'paid-' || id, effective, "
            "due_date, 1 FROM credit_obligations WHERE abs(hashtext(id::text)) % 2 = 0"))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE credit_obligations"))
        await conn.execute(text("VACUUM ANALYZE credit_facilities"))


async def _time(engine, fn, repeats: int) -> list[float]:
    out = []
    async with engine.connect() as conn:
        for _ in range(repeats):
            t = time.perf_counter()
            await fn(conn)
            await conn.rollback()
            out.append((time.perf_counter() - t) * 1000)
    return out


async def _run(n: int, rounds: int, repeats: int, pg_url: str) -> None:
    from activities.dashboard import store
    from ground.db import create_engine

    engine = create_engine(pg_url, pool_size=2)
    t0 = time.perf_counter()
    template = await _template(engine)
    await seed_facilities(engine, template, n - 1)
    await _spread(engine)
    async with engine.connect() as conn:
        counts = (await conn.execute(text("SELECT status, count(*) FROM credit_obligations GROUP BY 1 ORDER BY 1"))).all()
    print(f"seeded {n:,} facilities in {time.perf_counter() - t0:.1f} s; obligations: "
          + ", ".join(f"{s} {c:,}" for s, c in counts))
    reads = {"dashboard": store.dashboard, "portfolio": lambda c: store.portfolio(c, AS_OF)}
    results: dict[tuple[str, bool], list[float]] = {}
    for r in range(rounds):
        for indexed in ((True, False) if r % 2 == 0 else (False, True)):
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                for name, ddl in INDEXES.items():
                    await conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
                    if indexed:
                        await conn.execute(text(ddl))
                await conn.execute(text("VACUUM ANALYZE credit_obligations"))
                await conn.execute(text("VACUUM ANALYZE credit_facilities"))
            for name, fn in reads.items():
                await _time(engine, fn, 2)  # warm
                results.setdefault((name, indexed), []).extend(await _time(engine, fn, repeats))
    print(f"{'read':<10} {'0102':<11} {'calls':>6} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
    for (name, indexed), ms in sorted(results.items()):
        ms.sort()
        print(f"{name:<10} {'yes' if indexed else 'no':<11} {len(ms):>6} {statistics.median(ms):>10.1f} "
              f"{ms[int(len(ms) * 0.9) - 1]:>8.1f} {ms[0]:>8.1f}")
    await engine.dispose()


def run_bench(n: int, rounds: int, repeats: int) -> None:
    from workers.embedded_pg import bench_database

    with bench_database(extra_conf=BENCH_PG_CONF) as (url, _):
        asyncio.run(_run(n, rounds, repeats, url))
