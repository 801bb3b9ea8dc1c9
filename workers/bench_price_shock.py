"""`lana bench price-shock`: a BTC price drop of 20 % over N active facilities (issue 18 item 6).

Self-contained: an embedded PostgreSQL (durability on) and a Temporal dev server, one worker. One
facility is made through the credit operations (as ``lana bench eod-steps`` does); N − 1 copies
of its row are then inserted in one statement, each with its own collateral so that the CVLs at
$60,000 spread evenly over 100–300 % against $10,000 outstanding (their states and trigger prices
computed by the domain, as every writer stores them). The price pass reads nothing else (no
ledger, no obligations), so nothing else is cloned; the copies have no workflow, so their signals
are answered "not found" (counted, timed apart).

Each price event is an operator price (``record_manual_price``: the ``PriceFeedWorkflow`` records
it and runs ``credit.price_pass``). Printed per event: the seconds from the price's commit to the
last state change recorded (the last history row's ``clock_timestamp()``), the facilities that
changed state, the pages, and the signal delivery after it; then the peak RSS of the worker
process and of PostgreSQL (sum over its processes). Next to each event, interleaved, the earlier
way for comparison: every open facility read from the read model and re-evaluated in Python
(no writes, so a lower bound of what that pass cost). Asserts nothing.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

START_PRICE = 6_000_000  # $60,000
OUTSTANDING = 1_000_000  # $10,000


def _spread(n: int) -> list[int]:
    """Collateral (sats) giving CVLs evenly spread over [100, 300) % at the start price."""
    from domain.credit.money import SATS_PER_BTC

    return [int((100 + 200 * i / n) * OUTSTANDING * SATS_PER_BTC / (100 * START_PRICE)) + 1 for i in range(n)]


async def _seed(engine, n: int) -> None:
    from domain.credit import cvl as cvlmod
    from domain.credit.terms import TermValues
    from workers.bench_eod_steps import _template

    template = await _template(engine)
    async with engine.begin() as conn:
        terms = TermValues.model_validate((await conn.execute(text(
            "SELECT terms FROM credit_facilities WHERE id = CAST(:t AS uuid)"), {"t": template})).scalar_one())
        sats = _spread(n - 1)
        states, cvls, downs, ups = [], [], [], []
        for s in sats:
            value = cvlmod.cvl(s, OUTSTANDING, START_PRICE)
            state = cvlmod.state_for_cvl(value, terms)
            triggers = cvlmod.trigger_prices(state, s, OUTSTANDING, terms)
            states.append(state.value)
            cvls.append(str(value))
            downs.append(triggers.down)
            ups.append(triggers.up)
        ids = [str(uuid.uuid4()) for _ in sats]
        await conn.execute(text(
            "INSERT INTO credit_facilities (id, customer_id, customer_type, amount_cents, terms, custodian_id,"
            " collateral_id, deposit_account_id, stage, proposal_status, pending_status, status,"
            " pending_collateralization, collateralization, collateral_sats, collateral_seq, cvl, cvl_sort,"
            " price_cents, drawn_cents, disbursed_cents, outstanding_cents,"
            " accounts, activated_at, maturity_date, failed_disbursals, version, created_by, created_at, updated_at)"
            " SELECT c.id, t.customer_id, t.customer_type, t.amount_cents, t.terms, t.custodian_id,"
            " CAST(md5(c.id::text || 'collateral') AS uuid), t.deposit_account_id, t.stage, t.proposal_status,"
            " t.pending_status, t.status, t.pending_collateralization, c.state, c.sats, t.collateral_seq, c.cvl,"
            " CAST(c.cvl AS numeric), :price, t.drawn_cents, t.disbursed_cents, :outstanding,"
            " t.accounts, t.activated_at, t.maturity_date, t.failed_disbursals, t.version, t.created_by,"
            " t.created_at, t.updated_at"
            " FROM unnest(CAST(:id AS uuid[]), CAST(:sats AS bigint[]), CAST(:state AS text[]), CAST(:cvl AS text[]),"
            " CAST(:down AS bigint[]), CAST(:up AS bigint[])) AS c(id, sats, state, cvl, down, up),"
            " credit_facilities t WHERE t.id = CAST(:template AS uuid)"),
            {"id": ids, "sats": sats, "state": states, "cvl": cvls, "down": downs, "up": ups, "price": START_PRICE,
             "outstanding": OUTSTANDING, "template": template})
        await conn.execute(text(
            "INSERT INTO credit_collateralization_triggers (facility_id, trigger_price_down, trigger_price_up)"
            " SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:down AS bigint[]), CAST(:up AS bigint[]))"),
            {"id": ids, "down": downs, "up": ups})
        await conn.execute(text(
            "UPDATE credit_facilities SET outstanding_cents = :o WHERE id = CAST(:t AS uuid)"),
            {"o": OUTSTANDING, "t": template})
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


async def _full_scan(engine, price: int) -> tuple[float, int]:
    """The earlier pass, for comparison: every open facility read in id pages and re-evaluated
    (no writes); seconds and how many would change."""
    from activities.credit.store import price_sensitive_pages
    from domain.credit import cvl as cvlmod
    from domain.credit.terms import TermValues

    t, changes, parsed = time.perf_counter(), 0, {}
    async with engine.connect() as conn:
        async for rows in price_sensitive_pages(conn, 1000):
            for r in rows:
                key = str(r.terms)
                terms = parsed.get(key) or parsed.setdefault(key, TermValues.model_validate(r.terms))
                previous = cvlmod.CollateralizationState(r.collateralization) if r.collateralization else None
                if cvlmod.reevaluate(previous, r.collateral_sats, OUTSTANDING, price, terms)[1] is not previous:
                    changes += 1
    return time.perf_counter() - t, changes


async def _event(client, queue: str, engine, cents: int, settings) -> None:
    from domain.price.model import PriceQuote, PriceSource
    from workflows.price_feed import record_manual_price

    scan_s, would = await _full_scan(engine, cents)  # first: from the same stored states
    async with engine.connect() as conn:
        before = (await conn.execute(text("SELECT count(*) FROM credit_collateralization_history"))).scalar_one()
    t0 = time.perf_counter()
    tick = await record_manual_price(client, queue, PriceQuote(usd_cents_per_btc=cents, source=PriceSource.MANUAL,
                                                                observed_at=datetime.now(UTC)))
    wall = time.perf_counter() - t0
    async with engine.connect() as conn:
        r = (await conn.execute(text(
            "SELECT (SELECT changed_at FROM price_latest WHERE id = 1) AS priced,"
            " (SELECT max(recorded_at) FROM credit_collateralization_history) AS last_change,"
            " (SELECT count(*) FROM credit_collateralization_history) AS rows"))).one()
    to_last = (r.last_change - r.priced).total_seconds() if r.rows > before else 0.0
    print(f"  ${cents / 100:>9,.0f}, {settings.credit_price_pass_concurrency} page(s) in flight: {to_last:6.2f} s from the price to the last state change recorded; "
          f"{tick.state_changes:>7,} changed state ({r.rows - before:,} history rows); whole run incl. "
          f"{tick.signals:,} signals delivered and the rest answered not found: {wall:6.2f} s")
    print(f"  {'':>10}  earlier way, every open facility re-evaluated (reads only): {scan_s:6.2f} s "
          f"({would:,} would change)")


async def _run(n: int, drops: int, concurrencies: list[int], pg_url: str, data_dir: Path) -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from activities.registry import Deps
    from ground.db import create_engine
    from ground.settings import Settings
    from workers.bench_eod import _sample
    from workers.worker import build_worker
    from workflows.search_attributes import ALL_KEYS

    settings = Settings(database_url=pg_url, temporal_task_queue=f"bench-price-{uuid.uuid4().hex[:8]}",
                        price_source="manual")
    engine = create_engine(pg_url, pool_size=4)
    t0 = time.perf_counter()
    await _seed(engine, n)
    print(f"seeded {n:,} active facilities (CVL 100–300 % at $60,000) in {time.perf_counter() - t0:.1f} s")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.prefix, "bin", "temporal")), data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS, dev_server_log_level="error")
    peak, stop = {"worker": 0, "postgres": 0}, asyncio.Event()
    sampler = asyncio.create_task(_sample(data_dir, peak, stop))
    try:
        async with build_worker(env.client, Deps(engine=engine, settings=settings), settings.temporal_task_queue):
            for i in range(drops):  # alternately with each concurrency (the machine's noise hits each alike)
                settings.credit_price_pass_concurrency = concurrencies[i % len(concurrencies)]
                if i:  # back up to the start price in between (a shock the other way, hysteresis held)
                    await _event(env.client, settings.temporal_task_queue, engine, START_PRICE, settings)
                await _event(env.client, settings.temporal_task_queue, engine, START_PRICE * 80 // 100, settings)
            # and a small move (-1 %): few facilities cross, the pass reads only those
            await _event(env.client, settings.temporal_task_queue, engine, START_PRICE * 79 // 100, settings)
    finally:
        stop.set()
        await sampler
        await env.shutdown()
    print(f"peak RSS: worker process {peak['worker'] / 2**20:,.0f} MiB, PostgreSQL {peak['postgres'] / 2**20:,.0f} MiB "
          "(sum over its processes)")
    await engine.dispose()


def run_bench(n: int, drops: int, concurrencies: list[int]) -> None:
    from workers.embedded_pg import bench_database

    with bench_database() as (url, tmp):
        asyncio.run(_run(n, drops, concurrencies, url, tmp))
