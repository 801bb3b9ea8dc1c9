"""Temporal Schedules Lana needs, created or updated idempotently (`lana migrate`, `lana dev`)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
)

from domain.custody.sync_messages import PollInput
from domain.customers.messages import ClassificationInput
from domain.price.model import PriceFeedInput
from domain.reports.run import ScheduledRunInput
from domain.time.end_of_day import ProducerInput
from ground.settings import Settings
from workflows.custody_wallet import SCHEDULE_ID as CUSTODY_POLL_SCHEDULE_ID
from workflows.custody_wallet import SelfCustodyPollWorkflow
from workflows.customer_activity import SCHEDULE_ID, CustomerActivityClassificationWorkflow
from workflows.end_of_day import SCHEDULE_ID as END_OF_DAY_SCHEDULE_ID
from workflows.end_of_day import EndOfDayProducerWorkflow
from workflows.price_feed import SCHEDULE_ID as PRICE_SCHEDULE_ID
from workflows.price_feed import PriceFeedWorkflow
from workflows.report_run import SCHEDULE_ID as REPORTS_SCHEDULE_ID
from workflows.report_run import ScheduledReportsWorkflow

log = structlog.get_logger(__name__)


def classification_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CustomerActivityClassificationWorkflow.run,
            ClassificationInput(page_size=settings.activity_page_size),
            id=SCHEDULE_ID,  # the server appends the scheduled time
            task_queue=settings.temporal_task_queue,
        ),
        # every N hours, 5 minutes past the epoch-aligned boundary (00:05 UTC for a daily run)
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(
            every=timedelta(hours=settings.activity_schedule_every_hours), offset=timedelta(minutes=5))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
        state=ScheduleState(note="Classify customers Active / Inactive / Suspended"),
    )


async def ensure_classification_schedule(client: Client, settings: Settings) -> bool:
    """Create the daily classification schedule, or bring an existing one up to date.

    Returns True when it was created.
    """
    return await _ensure(client, SCHEDULE_ID, classification_schedule(settings))


def price_feed_schedule(settings: Settings) -> Schedule:
    every = timedelta(seconds=settings.price_poll_seconds)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PriceFeedWorkflow.run, PriceFeedInput(), id=PRICE_SCHEDULE_ID,
            task_queue=settings.temporal_task_queue,
            execution_timeout=max(every, timedelta(minutes=1)),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # a missed tick is worthless later: never catch up, never overlap
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(seconds=10)),
        state=ScheduleState(note=f"Fetch the BTC price from {settings.price_source}"),
    )


async def ensure_price_feed_schedule(client: Client, settings: Settings) -> bool:
    """Create the price-feed schedule, or bring an existing one up to date. True when created."""
    return await _ensure(client, PRICE_SCHEDULE_ID, price_feed_schedule(settings))


def end_of_day_schedule(settings: Settings) -> Schedule:
    """Every few minutes, the producer runs EndOfDay for each date that closed since the last
    completed one. Paused on a simulated clock: there the operator's advance runs the dates."""
    simulated = settings.clock_mode == "simulated"
    note = ("Paused: the clock is simulated (POST /api/v1/time/advance-to-next-end-of-day runs the dates)"
            if simulated else f"Run EndOfDay for each business date closed at {settings.business_closing_time} "
                              f"{settings.business_timezone}")
    return Schedule(
        action=ScheduleActionStartWorkflow(
            EndOfDayProducerWorkflow.run, ProducerInput(page_size=settings.end_of_day_page_size),
            id=END_OF_DAY_SCHEDULE_ID, task_queue=settings.temporal_task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.end_of_day_poll_seconds))]),
        # a catch-up of many dates may outlast ticks: skip them (the running one goes on to the last)
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=1)),
        state=ScheduleState(note=note, paused=simulated),
    )


async def ensure_end_of_day_schedule(client: Client, settings: Settings) -> bool:
    """Create the end-of-day schedule, or bring it up to date (paused on a simulated clock). True when created."""
    return await _ensure(client, END_OF_DAY_SCHEDULE_ID, end_of_day_schedule(settings))


def custody_poll_schedule(settings: Settings) -> Schedule:
    """Self-custody balances (custody-price-reports.md §1.7): every ``custody_poll_seconds``, one
    pass over the self-custody wallets; never overlapping, never caught up."""
    every = timedelta(seconds=settings.custody_poll_seconds)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SelfCustodyPollWorkflow.run, PollInput(page_size=settings.custody_poll_page_size),
            id=CUSTODY_POLL_SCHEDULE_ID, task_queue=settings.temporal_task_queue,
            execution_timeout=max(every * 10, timedelta(minutes=15))),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(seconds=10)),
        state=ScheduleState(note="Poll the confirmed balance of every self-custody wallet"),
    )


async def ensure_custody_poll_schedule(client: Client, settings: Settings) -> bool:
    """Create the self-custody poll schedule, or bring it up to date. True when created."""
    return await _ensure(client, CUSTODY_POLL_SCHEDULE_ID, custody_poll_schedule(settings))


def reports_schedule(settings: Settings) -> Schedule:
    """Once a day, ``reports_delay_minutes`` after the business closing time (in the business time
    zone): the whole catalogue for the last closed date. Runs are keyed by date, so a repeated or
    caught-up tick makes no second run of a date."""
    closing = settings.business_closing_time
    minutes = (closing.hour * 60 + closing.minute + settings.reports_delay_minutes) % (24 * 60)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ScheduledReportsWorkflow.run, ScheduledRunInput(), id=REPORTS_SCHEDULE_ID,
            task_queue=settings.temporal_task_queue),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(minutes // 60)],
                                                          minute=[ScheduleRange(minutes % 60)])],
                          time_zone_name=settings.business_timezone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=12)),
        state=ScheduleState(note=f"Run every report of the catalogue {settings.reports_delay_minutes} min after the "
                                 f"business day closes ({closing} {settings.business_timezone})"),
    )


async def ensure_reports_schedule(client: Client, settings: Settings) -> bool:
    """Create the daily report schedule, or bring it up to date. True when created."""
    return await _ensure(client, REPORTS_SCHEDULE_ID, reports_schedule(settings))


async def _ensure(client: Client, schedule_id: str, schedule: Schedule) -> bool:
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("schedule created", schedule_id=schedule_id)
        return True
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(schedule_id).update(lambda _old: ScheduleUpdate(schedule=schedule))
        return False


async def ensure_all(client: Client, settings: Settings) -> None:
    await ensure_classification_schedule(client, settings)
    await ensure_price_feed_schedule(client, settings)
    await ensure_end_of_day_schedule(client, settings)
    await ensure_custody_poll_schedule(client, settings)
    await ensure_reports_schedule(client, settings)


async def bootstrap_step(settings: Settings) -> None:
    """`lana dev` bootstrap step."""
    from ground.temporal import connect

    client = await connect(settings)
    await ensure_all(client, settings)
    # Fetch a price right away instead of waiting for the first tick (the worker picks it up).
    from workflows.price_feed import SCHEDULE_ID

    await client.get_schedule_handle(SCHEDULE_ID).trigger()
