"""The Temporal worker process: all workflows and activities on one task queue."""

from __future__ import annotations

import asyncio
import signal

import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.registry import Deps, build_activities
from ground.db import create_engine
from ground.settings import Settings
from ground.temporal import connect
from workflows.registry import WORKFLOWS

log = structlog.get_logger(__name__)

# `domain` is pure and deterministic: pass it through the sandbox instead of re-importing it for
# every workflow run (cheaper, and keeps first activations far from the 2 s deadlock detector).
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("domain", "structlog")
)


def build_worker(client: Client, deps: Deps, task_queue: str, *, extra_workflows: list[type] = (), **kwargs) -> Worker:
    return build_worker_with(client, task_queue, workflows=[*WORKFLOWS, *extra_workflows],
                             activities=build_activities(deps), **kwargs)


def build_worker_with(client: Client, task_queue: str, *, workflows: list[type], activities: list,
                      **kwargs) -> Worker:
    """A worker with the production runner and settings for any workflows and activities (the
    production worker, and the bench's skeleton on its own task queue)."""
    return Worker(client, task_queue=task_queue, workflows=workflows, activities=activities,
                  workflow_runner=SANDBOX, **kwargs)


async def run(settings: Settings) -> None:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size,
                           max_overflow=settings.database_max_overflow)
    client = await connect(settings)
    from workers.custody_cli import start_up as custody_start_up

    await custody_start_up(engine, settings)  # key rotation (audited), the mock custodian
    worker = build_worker(client, Deps(engine=engine, settings=settings), settings.temporal_task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started", task_queue=settings.temporal_task_queue, namespace=settings.temporal_namespace)
    from datetime import timedelta

    from workers.reconcile import run_forever

    sweeper = asyncio.create_task(run_forever(
        engine, client, settings.temporal_task_queue, every=settings.reconcile_every_s,
        grace=timedelta(seconds=settings.reconcile_grace_s), settings=settings))
    async with worker:
        await stop.wait()
        log.info("worker stopping")
        sweeper.cancel()
    await engine.dispose()
