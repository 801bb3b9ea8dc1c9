"""Statement read figures for a 10-year daily-accrual facility (prints them; run with LANA_BENCH=1;
nothing asserts a timing):

    LANA_BENCH=1 .venv/bin/pytest -s -p no:cacheprovider tests/bench/test_statement_bench.py

A facility activated through the operations, then 3,650 daily accrual transactions (two entries
each, PENDING layer) written straight into the ledger tables with SQL (the statement reads entries
only; the balance rows are not what is measured). Measured: the JSON first page and a walk of
every page (first=100), and the whole CSV streamed, with the Python heap peak (tracemalloc)."""

from __future__ import annotations

import os
import statistics
import time
import tracemalloc
from datetime import date

import pytest
from sqlalchemy import text

from activities.credit import statement_store as ss
from activities.credit.store import facility_row
from tests.harness import Stack
from tests.integration.credit.eod_helpers import activated_facility

pytestmark = pytest.mark.skipif(not os.environ.get("LANA_BENCH"), reason="benchmark: set LANA_BENCH=1")
DAYS = 3_650
ACTIVATED = date(2025, 1, 15)


async def _ten_years(engine, fid: str) -> None:
    async with engine.begin() as conn:
        row = await facility_row(conn, fid)
        journal = (await conn.execute(text("SELECT journal_id FROM ledger_transactions LIMIT 1"))).scalar_one()
        await conn.execute(text(
            "INSERT INTO ledger_transactions (id, journal_id, template_code, template_version, idempotency_key,"
            " request_hash, correlation_id, effective, recorded_at)"
            " SELECT md5('bench' || g)::uuid, :j, 'CREDIT_FACILITY_ACCRUE_INTEREST', 1, 'bench:' || g, 'x', 'bench',"
            " CAST(:d AS date) + g, now() + g * interval '1 second' FROM generate_series(1, :n) g"),
            {"j": journal, "d": ACTIVATED, "n": DAYS})
        await conn.execute(text(
            "INSERT INTO ledger_entries (transaction_id, sequence, account_id, currency, units, direction, layer,"
            " entry_type, effective, recorded_at)"
            " SELECT t.id, s.n, CASE s.n WHEN 1 THEN CAST(:ir AS uuid) ELSE CAST(:inc AS uuid) END, 'USD', 329,"
            " CASE s.n WHEN 1 THEN 'debit' ELSE 'credit' END, 'pending', 'ACCRUE_INTEREST', t.effective,"
            " t.recorded_at FROM ledger_transactions t CROSS JOIN (VALUES (1), (2)) s(n)"
            " WHERE t.idempotency_key LIKE 'bench:%'"),
            {"ir": row.accounts["interest_receivable_not_yet_due"], "inc": row.accounts["interest_income"]})
        await conn.execute(text("ANALYZE ledger_entries"))
        await conn.execute(text("ANALYZE ledger_transactions"))


async def test_statement_figures_for_ten_years(db_url, engine, ts_env):
    with ts_env.auto_time_skipping_disabled():
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
            fid, _ = await activated_facility(stack, ACTIVATED, 1_000_000, duration={"period": "MONTHS", "units": 120})
            await _ten_years(engine, fid)
            url, until = f"/api/v1/credit-facilities/{fid}/statement", "2035-12-31"
            firsts, walks, csvs, pages = [], [], [], 0
            for _ in range(2):  # rounds
                t = time.perf_counter()
                r = await stack.http.get(url, params={"first": 100, "until": until})
                firsts.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
                t, cursor, lines, pages = time.perf_counter(), None, 0, 0
                while True:
                    body = (await stack.http.get(url, params={"first": 100, "until": until,
                                                              **({"after": cursor} if cursor else {})})).json()
                    lines, pages, cursor = lines + len(body["items"]), pages + 1, body["next_cursor"]
                    if cursor is None:
                        break
                walks.append(time.perf_counter() - t)
                tracemalloc.start()
                t = time.perf_counter()
                r = await stack.http.get(url, params={"format": "csv", "until": until})
                csvs.append((time.perf_counter() - t, tracemalloc.get_traced_memory()[1], len(r.content)))
                tracemalloc.stop()
            async with engine.connect() as conn:
                row = await facility_row(conn, fid)
                acc = await ss.accounts_of(conn, fid, row.accounts)
                parts = {"keys": [], "lines": [], "balances_after_key": []}
                after = None
                for _ in range(4):
                    t = time.perf_counter()
                    keys = await ss.page_keys(conn, acc, date.min, date(2035, 12, 31), after, 500)
                    parts["keys"].append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    await ss.lines_of(conn, acc, keys)
                    parts["lines"].append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    await ss.balances_after_key(conn, acc, keys[-1])
                    parts["balances_after_key"].append((time.perf_counter() - t) * 1000)
                    after = keys[-1]
            print("\n  store calls, pages of 500, ms: " + "; ".join(f"{k} {[round(v) for v in vs]}"
                                                              for k, vs in parts.items()))
            print(f"\nstatement of a facility with {lines} lines ({DAYS} synthetic daily accruals)")
            print(f"  JSON first page (100 lines): p50 {statistics.median(firsts):.1f} ms ({firsts})")
            print(f"  JSON every page ({pages} pages of 100): {[f'{w:.2f}' for w in walks]} s, "
                  f"{statistics.median(walks) / pages * 1000:.1f} ms a page")
            print("  CSV streamed (pages of 500): " + ", ".join(
                f"{s:.2f} s, heap peak {m / 2**20:.1f} MiB, {n / 2**10:.0f} KiB" for s, m, n in csvs))
