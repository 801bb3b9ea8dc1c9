"""The production worker registers bank workflows only: samples and benchmarks come as extra_workflows."""

from tests.sample_workflows import SleepWorkflow
from workers.bench_workflows import NoopWorkflow, SkeletonFacilityWorkflow
from workflows.registry import WORKFLOWS


def test_samples_and_benchmarks_are_not_registered():
    assert not {SleepWorkflow, NoopWorkflow, SkeletonFacilityWorkflow} & set(WORKFLOWS)
    assert all(cls.__module__.startswith("workflows.") for cls in WORKFLOWS)
