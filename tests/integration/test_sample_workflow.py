import time
import uuid
from datetime import datetime

from temporalio.worker import Worker

from tests.sample_workflows import SleepInput, SleepWorkflow


async def test_thirty_simulated_days_take_seconds(ts_env):
    tq = f"tq-{uuid.uuid4().hex}"
    started = time.monotonic()
    async with Worker(ts_env.client, task_queue=tq, workflows=[SleepWorkflow]):
        before, after = await ts_env.client.execute_workflow(
            SleepWorkflow.run, SleepInput(days=30), id=f"sleep-{uuid.uuid4()}", task_queue=tq
        )
    elapsed = time.monotonic() - started
    simulated = datetime.fromisoformat(after) - datetime.fromisoformat(before)
    assert simulated.days == 30
    assert elapsed < 60  # generous: the point is that 30 days did not take 30 days
