"""A minimal workflow used to check the platform: a durable sleep, and a no-op for benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow


@dataclass
class SleepInput:
    days: int


@workflow.defn
class SleepWorkflow:
    """Sleeps on a server timer, then reports the Temporal clock before and after."""

    @workflow.run
    async def run(self, inp: SleepInput) -> list[str]:
        start = workflow.now()
        await workflow.sleep(timedelta(days=inp.days))
        return [start.isoformat(), workflow.now().isoformat()]


@workflow.defn
class NoopWorkflow:
    """Does nothing: the baseline rate of a bare workflow on a given server and worker."""

    @workflow.run
    async def run(self) -> None:
        return None
