"""PriceFeedWorkflow: one fetch → record of the BTC price, started by a Temporal Schedule.

Each run is short (two activities), so there is no history to manage; the schedule fires every
``LANA_PRICE_POLL_SECONDS`` and skips a tick while the previous run is still going. A failed fetch
does not fail the run: the last price stays in force (and turns stale after
``LANA_PRICE_MAX_AGE_SECONDS``). When the price changed (the store has published the
``price_updated`` event), one batch activity finds the active facilities whose collateralization
state changes at the new price and the run signals ``price_changed`` to just those workflows
(docs/architecture.md, "Cross-process reactions"): a tick costs no facility any history event
unless a threshold is crossed.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.credit.activity import CollateralizationActivities
    from activities.price.activity import PriceActivities
    from domain.price.model import PriceChanged, PriceFeedInput, PriceQuote, PriceTick
    from workflows.search_attributes import LANA_PROCESS_TYPE

SCHEDULE_ID = "price-feed"
FETCH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                          maximum_interval=timedelta(seconds=10), maximum_attempts=3)
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10),
                           maximum_attempts=10)


@workflow.defn
class PriceFeedWorkflow:
    @workflow.run
    async def run(self, inp: PriceFeedInput) -> PriceTick:
        workflow.upsert_search_attributes([LANA_PROCESS_TYPE.value_set("price-feed")])
        try:
            quote: PriceQuote = await workflow.execute_activity_method(
                PriceActivities.fetch_btc_price, start_to_close_timeout=timedelta(seconds=15),
                retry_policy=FETCH_RETRY)
        except ActivityError as exc:
            # One line per run: the activity's expected failures carry the cause and a hint, and
            # are logged by the SDK without a traceback (activities/price/activity.py).
            error = str(getattr(exc.cause, "message", exc.cause))
            workflow.logger.warning("price fetch failed: %s", error)
            return PriceTick(status="fetch_failed", error=error)
        tick: PriceTick = await workflow.execute_activity_method(
            PriceActivities.record_btc_price, quote, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY)
        if tick.changed:
            tick.signalled = await self._signal_crossings(tick)
        return tick

    async def _signal_crossings(self, tick: PriceTick) -> list[str]:
        ids: list[str] = await workflow.execute_activity_method(
            CollateralizationActivities.facilities_crossing_thresholds, tick.usd_cents_per_btc,
            start_to_close_timeout=timedelta(minutes=5), retry_policy=RECORD_RETRY)
        sig = PriceChanged(usd_cents_per_btc=tick.usd_cents_per_btc, observed_at=tick.observed_at)
        results = await asyncio.gather(*[
            workflow.get_external_workflow_handle(f"credit-facility-{fid}").signal("price_changed", sig)
            for fid in ids], return_exceptions=True)
        for fid, result in zip(ids, results, strict=True):
            if isinstance(result, BaseException):  # e.g. the facility's workflow already ended
                workflow.logger.warning("price_changed not delivered to facility %s: %s", fid, result)
        return [fid for fid, result in zip(ids, results, strict=True) if not isinstance(result, BaseException)]
