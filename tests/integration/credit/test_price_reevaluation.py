"""A BTC price change re-evaluates active facilities (credit.md §3.4/§3.6): the feed's batch pass
signals only the facilities whose state changes; hysteresis on the way back up."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from activities.credit.activity import CollateralizationActivities
from activities.credit.operations import crossing_ids
from activities.event_store import events
from domain.credit.messages import ReevaluateInput
from domain.price.model import PriceFeedInput, PriceQuote, PriceSource
from tests.fakes.bitfinex import running_fake_bitfinex
from tests.harness import Stack
from tests.integration.credit.facility_helpers import customer_with_deposit, propose, set_price, wait_for
from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id
from workflows.price_feed import PriceFeedWorkflow, observation_workflow_id, record_manual_price
from workflows.search_attributes import LANA_COLLATERALIZATION


@pytest.fixture
async def feed_stack(db_url, engine, ts_env):
    # No time skipping while a test awaits a feed run: the test server would otherwise jump to the
    # next timer it knows of, its own 10-year run timeout of the idle facility workflows, and time
    # them out (the feed's signal then finds no facility). Nothing here waits on a timer.
    with ts_env.auto_time_skipping_disabled():
        async with running_fake_bitfinex() as bfx, \
                Stack.start(db_url, engine, ts_env.client, kyc_required=False, price_bitfinex_url=bfx.url) as stack:
            yield stack, bfx


async def _feed(stack, bfx, dollars: str):
    bfx.set_last(dollars)
    return await stack.client.execute_workflow(
        PriceFeedWorkflow.run, PriceFeedInput(), id=f"price-feed-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.temporal_task_queue, execution_timeout=timedelta(minutes=5))


async def _active_with_outstanding(stack, collateral_sats: int, disbursed: int) -> str:
    """Active facility (no fee, so no initial disbursal) with ``disbursed`` cents drawn and settled."""
    customer_id, _ = await customer_with_deposit(stack)
    body = (await propose(stack.http, customer_id, 100_000, one_time_fee_rate="0")).json()
    fid = body["id"]
    await wait_for(lambda: stack.http.get(f"/api/v1/pending-credit-facilities/{fid}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await stack.http.post(f"/api/v1/collaterals/{body['collateral_id']}/manual-update",
                              json={"collateral": collateral_sats})
    assert r.json()["status"] == "ACTIVE", r.text
    r = await stack.http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": disbursed})
    assert r.status_code == 201, r.text
    await wait_for(lambda: stack.http.get(f"/api/v1/credit-facilities/{fid}"), lambda b: b["disbursed"] == disbursed)
    return fid


async def _facility(stack, fid):
    return (await stack.http.get(f"/api/v1/credit-facilities/{fid}")).json()


async def _history(stack, fid):
    rows = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/collateralization-history")).json()
    return [(h["state"], h["cvl"].get("value"), h["price_cents"]) for h in rows]


async def _event_count(stack, fid):
    async with stack.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(events).where(
            events.c.entity_type == "credit_facility", events.c.entity_id == fid))).scalar_one()


async def _settled(stack, fid, state):
    return await wait_for(lambda: stack.http.get(f"/api/v1/credit-facilities/{fid}"),
                          lambda b: b["collateralization_state"] == state)


async def test_price_moves_cross_thresholds_with_hysteresis(feed_stack):
    stack, bfx = feed_stack
    assert (await _feed(stack, bfx, "60000")).changed
    # 0.1 BTC against $500 drawn: CVL = floor(price_cents / 5,000); at $60,000: 1200
    fid = await _active_with_outstanding(stack, 10_000_000, 50_000)
    # 1 BTC against $500 drawn: CVL 12,000 at $60,000, still far above 125 at every price below
    safe = await _active_with_outstanding(stack, 100_000_000, 50_000)
    assert (await _facility(stack, fid))["collateralization_state"] == "FULLY_COLLATERALIZED"
    base, safe_base = await _history(stack, fid), await _history(stack, safe)
    safe_events = await _event_count(stack, safe)

    tick = await _feed(stack, bfx, "50000")  # CVL 1000: a change of price, no threshold crossed
    assert tick.changed and tick.signalled == []

    tick = await _feed(stack, bfx, "6000")  # CVL 120 < margin call 125
    assert tick.signalled == [fid]
    body = await _settled(stack, fid, "UNDER_MARGIN_CALL_THRESHOLD")
    assert body["cvl"] == {"value": "120"} and body["price_cents"] == 600_000
    assert await _history(stack, fid) == [*base, ("UNDER_MARGIN_CALL_THRESHOLD", "120", 600_000)]

    for dollars, cvl in (("6400", 128), ("6500", 130)):  # above 125 but not above 125 + 5: unchanged
        tick = await _feed(stack, bfx, dollars)
        assert tick.changed and tick.signalled == [], (dollars, cvl)
    events_before = await _event_count(stack, fid)

    tick = await _feed(stack, bfx, "6550")  # CVL 131 > 130: upgrade
    assert tick.signalled == [fid]
    body = await _settled(stack, fid, "FULLY_COLLATERALIZED")
    assert body["cvl"] == {"value": "131"}
    assert (await _history(stack, fid))[-1] == ("FULLY_COLLATERALIZED", "131", 655_000)
    assert await _event_count(stack, fid) == events_before + 1

    tick = await _feed(stack, bfx, "5000")  # CVL 100 < liquidation 105: straight down two states
    assert tick.signalled == [fid]
    await _settled(stack, fid, "UNDER_LIQUIDATION_THRESHOLD")
    handle = stack.client.get_workflow_handle(facility_workflow_id(fid))
    for _ in range(100):  # the upsert follows the activity's commit in the next workflow task
        if (await handle.describe()).typed_search_attributes.get(LANA_COLLATERALIZATION) == "UnderLiquidationThreshold":
            break
        await asyncio.sleep(0.05)
    assert (await handle.describe()).typed_search_attributes.get(LANA_COLLATERALIZATION) == "UnderLiquidationThreshold"

    # the facility that never crossed a threshold got no signal, no event, no history row
    assert await _history(stack, safe) == safe_base and await _event_count(stack, safe) == safe_events
    handle = stack.client.get_workflow_handle(facility_workflow_id(safe))
    assert (await handle.query(CreditFacilityWorkflow.summary)).collateralization == "FullyCollateralized"


async def test_replayed_signal_and_reevaluation_change_nothing(feed_stack):
    stack, bfx = feed_stack
    await _feed(stack, bfx, "60000")
    fid = await _active_with_outstanding(stack, 10_000_000, 50_000)
    tick = await _feed(stack, bfx, "6000")
    await _settled(stack, fid, "UNDER_MARGIN_CALL_THRESHOLD")
    history, count = await _history(stack, fid), await _event_count(stack, fid)

    from domain.price.model import PriceChanged

    handle = stack.client.get_workflow_handle(facility_workflow_id(fid))
    replay = PriceChanged(usd_cents_per_btc=tick.usd_cents_per_btc, observed_at=tick.observed_at)
    await handle.signal(CreditFacilityWorkflow.price_changed, replay)
    # an older observation at a recovered price must not undo the current state either
    await handle.signal(CreditFacilityWorkflow.price_changed, PriceChanged(
        usd_cents_per_btc=6_000_000, observed_at=tick.observed_at - timedelta(minutes=1)))
    await handle.query(CreditFacilityWorkflow.summary)
    acts = CollateralizationActivities(stack.engine)
    again = await acts.reevaluate_collateralization(ReevaluateInput(
        facility_id=fid, usd_cents_per_btc=tick.usd_cents_per_btc, observed_at=tick.observed_at))
    assert again.collateralization.value == "UnderMarginCallThreshold"
    # a late signal overtaken by a later price change uses the price in force ($6,000 still)
    late = await acts.reevaluate_collateralization(ReevaluateInput(
        facility_id=fid, usd_cents_per_btc=6_000_000, observed_at=datetime(2020, 1, 1, tzinfo=UTC)))
    assert late.collateralization.value == "UnderMarginCallThreshold"
    assert await _history(stack, fid) == history and await _event_count(stack, fid) == count
    async with stack.engine.connect() as conn:
        assert await crossing_ids(conn, 600_000) == []
        assert await crossing_ids(conn, 655_000, page_size=1) == [fid]


async def _pending_with(stack, collateral_sats: int) -> dict:
    """A pending $1,000 facility (no fee) holding ``collateral_sats``, below the activation CVL."""
    customer_id, _ = await customer_with_deposit(stack)
    body = (await propose(stack.http, customer_id, 100_000, one_time_fee_rate="0")).json()
    await wait_for(lambda: stack.http.get(f"/api/v1/pending-credit-facilities/{body['id']}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await stack.http.post(f"/api/v1/collaterals/{body['collateral_id']}/manual-update",
                              json={"collateral": collateral_sats})
    assert (r.json()["stage"], r.json()["collateralization_state"]) == ("PENDING", "UNDER_COLLATERALIZED"), r.text
    return body


async def test_price_rise_activates_a_fully_collateralized_pending_facility(feed_stack):
    """§3.6 (issue 14 item 10): a new price re-evaluates pending facilities too; only the one that
    becomes fully collateralized is signalled, and it activates."""
    stack, bfx = feed_stack
    await _feed(stack, bfx, "60000")
    ready = await _pending_with(stack, 2_000_000)  # 0.02 BTC against $1,000: CVL 120 at $60,000
    short = await _pending_with(stack, 1_000_000)  # CVL 60 at $60,000, 70 at $70,000

    tick = await _feed(stack, bfx, "70000")  # CVL 140 = initial CVL for the first one
    assert tick.signalled == [ready["id"]]
    body = await wait_for(lambda: stack.http.get(f"/api/v1/credit-facilities/{ready['id']}"),
                          lambda b: b["status"] == "ACTIVE")
    assert (body["cvl"], body["collateralization_state"], body["price_cents"]) == (
        {"value": "140"}, "FULLY_COLLATERALIZED", 7_000_000)
    assert ("FULLY_COLLATERALIZED", "140", 7_000_000) in await _history(stack, ready["id"])
    other = (await stack.http.get(f"/api/v1/pending-credit-facilities/{short['id']}")).json()
    assert (other["stage"], other["collateralization_state"]) == ("PENDING", "UNDER_COLLATERALIZED")
    assert short["id"] not in (await _feed(stack, bfx, "70002")).signalled  # still short of 140: not signalled


async def test_posting_the_same_collateral_again_reevaluates_at_the_current_price(feed_stack):
    stack, _ = feed_stack
    await set_price(stack.engine, 6_000_000)
    body = await _pending_with(stack, 2_000_000)
    await set_price(stack.engine, 7_000_000)  # recorded without the feed: no signal
    r = await stack.http.post(f"/api/v1/collaterals/{body['collateral_id']}/manual-update",
                              json={"collateral": 2_000_000})
    assert (r.json()["status"], r.json()["cvl"]) == ("ACTIVE", {"value": "140"}), r.text
    updates = (await stack.http.get(f"/api/v1/credit-facilities/{body['id']}/collateral-updates")).json()
    assert len(updates) == 1  # nothing new posted for the same amount


async def test_manual_price_drop_raises_a_margin_call(db_url, engine, ts_env):
    """Issue 14 item 11: `PUT /price` goes through the PriceFeedWorkflow like every other price, so a
    crash entered by hand re-evaluates the facilities; the same observation runs once."""
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, price_source="manual") as stack:
        r = await stack.http.put("/api/v1/price", json={"usd_cents_per_btc": 6_000_000})
        assert r.status_code == 200 and r.json()["usd_cents_per_btc"] == 6_000_000, r.text
        fid = await _active_with_outstanding(stack, 10_000_000, 50_000)  # CVL 1200 at $60,000
        r = await stack.http.put("/api/v1/price", json={"usd_cents_per_btc": 600_000})  # CVL 120 < 125
        assert r.status_code == 200 and r.json()["usd_cents_per_btc"] == 600_000, r.text
        body = await _settled(stack, fid, "UNDER_MARGIN_CALL_THRESHOLD")
        assert (body["cvl"], body["price_cents"]) == ({"value": "120"}, 600_000)
        assert (await _history(stack, fid))[-1] == ("UNDER_MARGIN_CALL_THRESHOLD", "120", 600_000)

        quote = PriceQuote(usd_cents_per_btc=550_000, source=PriceSource.MANUAL, observed_at=datetime.now(UTC))
        queue = stack.settings.temporal_task_queue
        first = await record_manual_price(stack.client, queue, quote)
        handle = stack.client.get_workflow_handle(observation_workflow_id(quote))
        run_id = (await handle.describe()).run_id
        again = await record_manual_price(stack.client, queue, quote)
        assert first == again and first.changed and first.status == "recorded"
        assert (await handle.describe()).run_id == run_id  # the repeat started no second run
