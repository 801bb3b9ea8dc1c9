"""Cost of the period check in ledger_post (prints figures; run with LANA_BENCH=1).

Alternates the original function (0002_ledger) and the one with period limits (0008_accounting) on
the same database, 2,000 sequential postings per round, limits set (a closed month, an open year).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import statistics
import time
import uuid

import asyncpg
import pytest

from activities import ledger
from tests.integration.ledger_helpers import make_account

pytestmark = pytest.mark.skipif(not os.environ.get("LANA_BENCH"), reason="benchmark: set LANA_BENCH=1")
N = 2000


async def test_period_check_cost(engine, db_url):
    mig = importlib.import_module("migrations.versions.0008_accounting")
    a, b = await make_account(engine, "debit"), await make_account(engine, "credit")
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
    await conn.execute("UPDATE ledger_journals SET closed_through = '2025-12-31', open_until = '2026-12-31'")
    results: dict[str, list[float]] = {"original": [], "with periods": []}
    try:
        for rnd in range(3):
            for name, fn in (("original", mig._POST_ORIGINAL), ("with periods", mig._POST_WITH_PERIODS)):
                await conn.execute(fn)
                t = time.perf_counter()
                for i in range(N):
                    await ledger.post(conn, "TRANSFER", {"from_account_id": a, "to_account_id": b, "amount": 1},
                                      idempotency_key=f"{name}:{rnd}:{i}:{uuid.uuid4()}", effective=dt.date(2026, 6, 1))
                results[name].append((time.perf_counter() - t) / N * 1e6)
    finally:
        await conn.execute(mig._POST_WITH_PERIODS)
        await conn.close()
    print("\nledger_post µs per posting (sequential, median of 3 rounds): "
          + ", ".join(f"{k} {statistics.median(v):.0f}" for k, v in results.items()))
