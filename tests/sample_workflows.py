"""A minimal workflow used by tests to check the platform: a durable sleep on a server timer.

Not registered in the production worker; a test runs it on its own worker.
"""

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
