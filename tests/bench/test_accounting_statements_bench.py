"""Statement latency on a chart with many accounts (prints figures; run with LANA_BENCH=1).

    LANA_BENCH=1 .venv/bin/pytest -s tests/bench/test_accounting_statements_bench.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import statistics
import time
import uuid

import pytest

from activities import ledger
from activities.accounting import placement, statements
from domain.accounting.product_sets import DEPOSIT_OMNIBUS, CustomerType, deposit_accounts
from tests.integration.accounting_helpers import default_chart

pytestmark = pytest.mark.skipif(not os.environ.get("LANA_BENCH"), reason="benchmark: set LANA_BENCH=1")
N_ACCOUNTS = int(os.environ.get("LANA_BENCH_ACCOUNTS", "5000"))
N_POSTINGS = int(os.environ.get("LANA_BENCH_POSTINGS", "20000"))


async def _timed(fn, runs=5):
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


async def test_statement_latency(engine):
    await default_chart(engine)
    rng = random.Random(7)
    types = list(CustomerType)
    accts = []
    async with engine.begin() as conn:
        omni = await placement.omnibus_account(conn, DEPOSIT_OMNIBUS)
        for _ in range(N_ACCOUNTS):
            aid = uuid.uuid4()
            await placement.product_account(conn, deposit_accounts(rng.choice(types)), account_id=aid,
                                            code=f"DEP.{aid}", name="dep")
            accts.append(aid)
    sem = asyncio.Semaphore(8)

    async def one(i):
        async with sem:
            await ledger.post(engine, "RECORD_DEPOSIT", {"deposit_omnibus_account_id": omni,
                                                         "credit_account_id": rng.choice(accts),
                                                         "amount": rng.randint(1, 10**7)},
                              idempotency_key=f"b:{i}", effective=dt.date(2026, 1, 1) + dt.timedelta(days=i % 300))

    await asyncio.gather(*(one(i) for i in range(N_POSTINGS)))
    start, until = dt.date(2026, 3, 1), dt.date(2026, 9, 30)
    async with engine.connect() as conn:
        tb = await _timed(lambda: statements.trial_balance(conn, start, until, "USD"))
        bs = await _timed(lambda: statements.balance_sheet(conn, until, "USD"))
        pl = await _timed(lambda: statements.profit_and_loss(conn, start, until, "USD"))
        result = await statements.trial_balance(conn, start, until, "USD")
    assert result["totals"]["balanced"]
    print(f"\n{N_ACCOUNTS} accounts, {N_POSTINGS} postings ({2 * N_POSTINGS} entries), 81-node chart: "
          f"trial balance {tb:.1f} ms, balance sheet {bs:.1f} ms, P&L {pl:.1f} ms (median of 5)")
