"""Price feed: real adapter against a local fake Bitfinex, real worker, real PostgreSQL."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from activities.event_store import events
from activities.price import store
from domain.price.model import NoPrice, PriceFeedInput, PriceTick, StalePrice
from tests.fakes.bitfinex import running_fake_bitfinex
from tests.harness import Stack
from workers.schedules import ensure_price_feed_schedule
from workflows.price_feed import SCHEDULE_ID, PriceFeedWorkflow


async def run_feed(stack):
    return await stack.client.execute_workflow(
        PriceFeedWorkflow.run, PriceFeedInput(), id=f"price-feed-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.temporal_task_queue, execution_timeout=timedelta(minutes=5))


async def counts(stack):
    async with stack.engine.connect() as conn:
        history = (await conn.execute(select(func.count()).select_from(store.price_history))).scalar_one()
        evs = (await conn.execute(select(func.count()).select_from(events)
                                  .where(events.c.entity_type == "btc_price"))).scalar_one()
    return history, evs


async def test_feed_records_changes_only_and_survives_provider_failure(db_url, engine, ts_env):
    async with running_fake_bitfinex() as bfx, \
            Stack.start(db_url, engine, ts_env.client, price_bitfinex_url=bfx.url) as stack:
        assert (await stack.http.get("/api/v1/price")).json()["code"] == "price.no_price"
        async with engine.connect() as conn:
            with pytest.raises(NoPrice):
                await store.current_price(conn, datetime.now(UTC), timedelta(seconds=60))

        first = await run_feed(stack)
        assert (first.status, first.changed, first.usd_cents_per_btc) == ("recorded", True, 1_680_900)
        same = await run_feed(stack)
        assert (same.status, same.changed) == ("recorded", False)
        assert same.observed_at > first.observed_at
        bfx.set_last("16810.129")
        moved = await run_feed(stack)
        assert (moved.changed, moved.usd_cents_per_btc, moved.previous_cents) == (True, 1_681_012, 1_680_900)
        assert await counts(stack) == (2, 2)  # one history row and one event per change, none for "same"

        bfx.status = 503
        failed = await run_feed(stack)
        assert failed.status == "fetch_failed" and "503" in failed.error
        bfx.status, bfx.body = 200, '["error",10020,"symbol: invalid"]'
        calls = bfx.calls
        assert (await run_feed(stack)).status == "fetch_failed"
        assert bfx.calls == calls + 1  # request-parameter errors are not retried
        assert await counts(stack) == (2, 2)

        body = (await stack.http.get("/api/v1/price")).json()
        assert body["usd_cents_per_btc"] == 1_681_012 and body["source"] == "BITFINEX"
        assert body["stale"] is False and body["max_age_seconds"] == 300
        history = (await stack.http.get("/api/v1/price/history")).json()
        assert [(h["usd_cents_per_btc"], h["previous_cents"]) for h in history] == [
            (1_681_012, 1_680_900), (1_680_900, None)]

        async with engine.connect() as conn:
            observed = (await store.latest_price(conn)).observed_at
            ok = await store.current_price(conn, observed + timedelta(seconds=300), timedelta(seconds=300))
            assert ok.usd_cents_per_btc == 1_681_012
            with pytest.raises(StalePrice) as info:
                await store.current_price(conn, observed + timedelta(seconds=301), timedelta(seconds=300))
        assert info.value.code == "price.stale_price" and info.value.extra["age_seconds"] == 301


async def test_older_observation_is_ignored(engine):
    from domain.price.model import PriceQuote

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await store.record_observation(conn, PriceQuote(usd_cents_per_btc=100, source="fixed", observed_at=t0))
        late = await store.record_observation(
            conn, PriceQuote(usd_cents_per_btc=999, source="fixed", observed_at=t0 - timedelta(seconds=1)))
        again = await store.record_observation(conn, PriceQuote(usd_cents_per_btc=100, source="fixed", observed_at=t0))
        price = await store.latest_price(conn)
    assert late.status == again.status == "ignored" and price.usd_cents_per_btc == 100


async def test_stale_flag_on_the_api(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, price_source="fixed",
                           price_fixed_usd_cents_per_btc=7_000_000, price_max_age_seconds=1) as stack:
        assert (await run_feed(stack)).usd_cents_per_btc == 7_000_000
        await asyncio.sleep(1.2)
        body = (await stack.http.get("/api/v1/price")).json()
        assert body["stale"] is True and body["age_seconds"] >= 1


async def test_manual_price_source(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, price_source="manual") as stack:
        assert (await run_feed(stack)).status == "fetch_failed"  # nothing set yet
        r = await stack.http.put("/api/v1/price", json={"usd_cents_per_btc": 6_000_000})
        assert r.status_code == 200 and r.json()["source"] == "MANUAL" and r.json()["stale"] is False
        confirmed = await run_feed(stack)  # the feed re-confirms the operator's price
        assert (confirmed.status, confirmed.changed, confirmed.usd_cents_per_btc) == ("recorded", False, 6_000_000)
        bad = await stack.http.put("/api/v1/price", json={"usd_cents_per_btc": 0})
        assert bad.status_code == 422
        viewer = await stack.client_for("manager@bank.test", "bank-manager")
        assert (await viewer.put("/api/v1/price", json={"usd_cents_per_btc": 1})).status_code == 403
        assert (await viewer.get("/api/v1/price")).status_code == 403  # price_viewer is admin-only


async def test_put_price_refused_unless_manual(stack):
    r = await stack.http.put("/api/v1/price", json={"usd_cents_per_btc": 6_000_000})
    assert r.status_code == 409 and r.json()["code"] == "price.manual_price_disabled"
    assert (await stack.http.get("/api/v1/price")).status_code == 503


async def test_schedule_is_created_once_and_runs(db_url, engine, dev_env):
    async with Stack.start(db_url, engine, dev_env.client, price_source="fixed",
                           price_fixed_usd_cents_per_btc=6_500_000, price_poll_seconds=3600) as stack:
        assert await ensure_price_feed_schedule(stack.client, stack.settings) is True
        assert await ensure_price_feed_schedule(stack.client, stack.settings) is False
        handle = stack.client.get_schedule_handle(SCHEDULE_ID)
        desc = await handle.describe()
        assert desc.schedule.spec.intervals[0].every == timedelta(hours=1)
        assert desc.schedule.action.workflow == "PriceFeedWorkflow"
        await handle.trigger()
        for _ in range(100):
            desc = await handle.describe()
            if desc.info.recent_actions:
                break
            await asyncio.sleep(0.1)
        started = desc.info.recent_actions[-1].action
        result = await stack.client.get_workflow_handle(started.workflow_id, run_id=started.first_execution_run_id,
                                                        result_type=PriceTick).result()
        assert (result.status, result.changed, result.usd_cents_per_btc) == ("recorded", True, 6_500_000)
        assert (await stack.http.get("/api/v1/price")).json()["usd_cents_per_btc"] == 6_500_000


async def test_put_price_without_a_worker_answers_503_and_the_next_tick_records_it(db_url, engine, ts_env,
                                                                                  monkeypatch):
    """Issue 14 item 11: `PUT /price` waits for the feed workflow to record, bounded; with no worker
    it is 503 + Retry-After (safe to repeat), and the stored manual price is recorded by the next tick."""
    monkeypatch.setattr("api.workflow_calls.UPDATE_TIMEOUT_S", 1.0)
    async with Stack.start(db_url, engine, ts_env.client, price_source="manual") as stack:
        stack.app.state.settings = stack.settings.model_copy(
            update={"temporal_task_queue": f"no-worker-{uuid.uuid4().hex[:6]}"})
        r = await stack.http.put("/api/v1/price", json={"usd_cents_per_btc": 6_100_000})
        assert r.status_code == 503 and r.json()["code"] == "common.unavailable", r.text
        assert int(r.headers["Retry-After"]) >= 1
        assert (await stack.http.get("/api/v1/price")).status_code == 503  # nothing recorded yet
        tick = await run_feed(stack)  # the scheduled run re-confirms the operator's price
        assert (tick.status, tick.changed, tick.usd_cents_per_btc) == ("recorded", True, 6_100_000)
