"""Temporal Schedules Lana needs, created or updated idempotently (`lana migrate`, `lana dev`)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
)

from domain.customers.messages import ClassificationInput
from workers.settings import Settings
from workflows.customer_activity import SCHEDULE_ID, CustomerActivityClassificationWorkflow

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
    schedule = classification_schedule(settings)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        log.info("schedule created", schedule_id=SCHEDULE_ID)
        return True
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(SCHEDULE_ID).update(lambda _old: ScheduleUpdate(schedule=schedule))
        return False


async def ensure_all(client: Client, settings: Settings) -> None:
    await ensure_classification_schedule(client, settings)


async def bootstrap_step(settings: Settings) -> None:
    """`lana dev` bootstrap step."""
    from workers.temporal_client import connect

    await ensure_all(await connect(settings), settings)
