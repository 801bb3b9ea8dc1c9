"""Today's workflow code replays the saved histories: a non-deterministic change fails here.

Histories are recorded by ``python -m tests.replay.record [name]`` (docs/testing.md).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workers.worker import SANDBOX
from workflows.registry import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"


def history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def replayer(workflows: list[type]) -> Replayer:
    # The production worker's sandbox (passthrough modules) and data converter.
    return Replayer(workflows=workflows, workflow_runner=SANDBOX, data_converter=pydantic_data_converter)


def test_every_workflow_type_has_a_history():
    def started_type(path: Path) -> str:
        start = history(path).events[0].workflow_execution_started_event_attributes
        return start.workflow_type.name

    registered = {workflow._Definition.must_from_class(cls).name for cls in WORKFLOWS}
    assert registered <= {started_type(p) for p in HISTORIES.glob("*.json")}


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_history_replays_on_todays_code(path):
    await replayer(WORKFLOWS).replay_workflow(history(path))


@workflow.defn(name="CustomerKycWorkflow")
class ReorderedKycWorkflow:
    """The KYC workflow with a timer added before its first activity: not replay-compatible."""

    @workflow.signal(name="kyc_notice")
    def kyc_notice(self, notice) -> None:
        pass

    @workflow.run
    async def run(self, inp) -> int:
        await workflow.sleep(timedelta(seconds=1))
        return 0


async def test_an_incompatible_change_fails_the_replay():
    with pytest.raises(NondeterminismError):
        await replayer([ReorderedKycWorkflow]).replay_workflow(history(HISTORIES / "customer_kyc.json"))
