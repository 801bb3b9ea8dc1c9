"""PriceFeedWorkflow: one fetch → record of the BTC price, started by a Temporal Schedule.

Each run is short (two activities), so there is no history to manage; the schedule fires every
``LANA_PRICE_POLL_SECONDS`` and skips a tick while the previous run is still going. A failed fetch
does not fail the run: the last price stays in force (and turns stale after
``LANA_PRICE_MAX_AGE_SECONDS``). When the price changed, the store has already published the
``price_updated`` event; re-evaluating facilities' collateralization hangs off this point later.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.price.feed import PriceActivities
    from domain.price.model import PriceFeedInput, PriceQuote, PriceTick
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
            cause = exc.cause
            workflow.logger.warning("price fetch failed: %s", cause)
            return PriceTick(status="fetch_failed", error=str(getattr(cause, "message", cause)))
        return await workflow.execute_activity_method(
            PriceActivities.record_btc_price, quote, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY)
