"""PriceFeedWorkflow: one fetch → record of the BTC price, started by a Temporal Schedule, or
record of an operator's manual price (``PUT /price`` → :func:`record_manual_price`, the quote as
input, no fetch): every price change, from any source, takes this one path.

Each run is short (two activities), so there is no history to manage; the schedule fires every
``LANA_PRICE_POLL_SECONDS`` and skips a tick while the previous run is still going. A failed fetch
does not fail the run: the last price stays in force (and turns stale after
``LANA_PRICE_MAX_AGE_SECONDS``). When the price changed (the store has published the
``price_updated`` event), one activity (``credit.price_pass``) reads from the trigger-price
indexes only the facilities whose state changes at the new price, records their new states
set-based and signals just those workflows (``collateralization_changed``; ``price_changed`` to a
pending one that can now activate), through an outbox (docs/credit.md, "Collateralization"): a
tick costs no facility any history event unless a threshold is crossed.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.credit.activity import CollateralizationActivities
    from activities.price.activity import PriceActivities
    from domain.credit.messages import PricePassInput, PricePassResult
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
        quote = inp.quote  # given: the operator's manual price (record_manual_price), nothing to fetch
        if quote is None:
            try:
                quote = await workflow.execute_activity_method(
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
            if workflow.patched("price-pass"):
                await self._price_pass(tick)
            else:  # runs recorded before the set-based pass
                tick.signalled = await self._signal_crossings(tick)
        return tick

    async def _price_pass(self, tick: PriceTick) -> None:
        assert tick.usd_cents_per_btc is not None and tick.observed_at is not None
        result: PricePassResult = await workflow.execute_activity_method(
            CollateralizationActivities.price_pass,
            PricePassInput(usd_cents_per_btc=tick.usd_cents_per_btc, observed_at=tick.observed_at),
            start_to_close_timeout=timedelta(minutes=30), heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RECORD_RETRY)
        tick.signalled, tick.signals = result.signalled_sample, result.signalled
        tick.state_changes, tick.activations = result.state_changes, result.activations

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


def observation_workflow_id(quote: PriceQuote) -> str:
    """One run per observation: a repeated start of the same observation reaches the same run."""
    micros = int(quote.observed_at.timestamp() * 1_000_000)
    return f"price-observation-{quote.source.value}-{micros}-{quote.usd_cents_per_btc}"


async def record_manual_price(client, task_queue: str, quote: PriceQuote) -> PriceTick:
    """Run the feed workflow on the operator's ``quote`` and wait for what it recorded (the caller
    bounds the wait: ``api/workflow_calls.call``). The id comes from the observation: a repeat reaches
    the running run (USE_EXISTING) or the finished one's result (REJECT_DUPLICATE), never a second run."""
    wid = observation_workflow_id(quote)
    try:
        handle = await client.start_workflow(
            PriceFeedWorkflow.run, PriceFeedInput(quote=quote), id=wid, task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE, execution_timeout=timedelta(minutes=10))
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle_for(PriceFeedWorkflow.run, wid)
    return await handle.result()
