"""The set-based price pass (issue 18 item 6) on its own: only crossed facilities are read and
written, a pass run again changes nothing, the outbox loses no signal when the pass's signals are
sent later (a crash between the commit and the signals), and a pass overtaken by a newer price
stops (that price's pass decides)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from activities.credit import collateralization
from activities.credit.tables import collateralization_history
from activities.event_store import events
from activities.price.store import latest_price
from domain.credit.messages import PricePassInput, PricePassResult
from tests.harness import Stack
from tests.integration.credit.facility_helpers import active_facility, set_price
from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id


async def _counts(engine) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        history = (await conn.execute(select(func.count()).select_from(collateralization_history))).scalar_one()
        evs = (await conn.execute(select(func.count()).select_from(events).where(
            events.c.event_type == "collateralization_changed"))).scalar_one()
        outbox = (await conn.execute(text("SELECT count(*) FROM credit_collateralization_signals"))).scalar_one()
    return history, evs, outbox


async def _price(engine, cents: int) -> PricePassInput:
    await set_price(engine, cents)  # recorded without the feed: no pass runs by itself
    async with engine.connect() as conn:
        latest = await latest_price(conn)
    return PricePassInput(usd_cents_per_btc=cents, observed_at=latest.changed_at, page_size=1, concurrency=2)


async def test_pass_writes_once_signals_later_and_yields_to_a_newer_price(db_url, engine, ts_env):
    # no time skipping: the test server would jump to the idle facility workflows' run timeout
    with ts_env.auto_time_skipping_disabled():
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
            await set_price(engine, 6_000_000)
            # single disbursal of $1,000 each; 0.1 BTC = CVL 600 at $60,000
            low, low_collateral, _ = await active_facility(stack, 100_000, disbursal_policy="SingleDisbursal",
                                                           one_time_fee_rate="0")
            safe, _, _ = await active_facility(stack, 100_000, disbursal_policy="SingleDisbursal", one_time_fee_rate="0")
            r = await stack.http.post(f"/api/v1/collaterals/{low_collateral}/manual-update",
                                      json={"collateral": 2_500_000})  # CVL 150 at $60,000
            assert r.status_code == 200, r.text
            start = await _counts(engine)

            drop = await _price(engine, 4_960_000)  # CVL 124 for `low`; 496 for `safe`
            async with engine.connect() as conn:
                assert await collateralization.crossing_ids(conn, drop.usd_cents_per_btc) == [low]
            result = await collateralization.run_price_pass(engine, drop)  # no signals yet (a crash here)
            assert (result.selected, result.state_changes, result.activations) == (1, 1, 0)
            assert await _counts(engine) == (start[0] + 1, start[1] + 1, start[2] + 1)

            again = await collateralization.run_price_pass(engine, drop)  # the retried attempt: nothing twice
            assert (again.selected, again.state_changes) == (0, 0)
            assert await _counts(engine) == (start[0] + 1, start[1] + 1, start[2] + 1)

            handle = stack.client.get_workflow_handle(facility_workflow_id(low))
            assert (await handle.query(CreditFacilityWorkflow.summary)).collateralization == "FullyCollateralized"
            sent = PricePassResult()
            await collateralization.deliver(engine, stack.client, sent)  # what the retried activity sends first
            assert (sent.signalled, sent.not_delivered, sent.signalled_sample) == (1, 0, [low])
            summary = await handle.query(CreditFacilityWorkflow.summary)
            assert (summary.collateralization, summary.cvl) == ("UnderMarginCallThreshold", {"value": "124"})
            twice = PricePassResult()
            await collateralization.deliver(engine, stack.client, twice)
            assert twice.signalled == 0  # delivered once, marked

            # a pass for an observation older than the price in force stops at once
            stale = drop.model_copy(update={"usd_cents_per_btc": 6_000_000,
                                            "observed_at": drop.observed_at - timedelta(minutes=1)})
            await _price(engine, 4_900_000)
            late = await collateralization.run_price_pass(engine, stale)
            assert late.superseded and late.state_changes == 0
            assert (await stack.http.get(f"/api/v1/credit-facilities/{low}")).json()["collateralization_state"] == (
                "UNDER_MARGIN_CALL_THRESHOLD")
            assert (await stack.http.get(f"/api/v1/credit-facilities/{safe}")).json()["collateralization_state"] == (
                "FULLY_COLLATERALIZED")
