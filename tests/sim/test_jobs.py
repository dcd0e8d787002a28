"""The simulator's jobs as arrays: the plan of `workload.traffic.plan`, job for job."""

from __future__ import annotations

import pytest

from asrlab.errors import ConfigError
from asrlab.sim.jobs import from_planned, planned
from asrlab.workload.traffic import DEFAULT_MIX, MixItem, PlannedJob, WorkloadConfig, plan

NOISE = MixItem("pink_noise", 11.2, 1.0)


@pytest.mark.parametrize(
    "config",
    [
        WorkloadConfig(n_jobs=1),
        WorkloadConfig(n_jobs=2500, rate_per_min=600.0, seed=3, mix=DEFAULT_MIX),
        # An item listed twice is one item (as `plan`'s jobs grouped by item); a fixed noise seed
        # replaces the job's own.
        WorkloadConfig(
            n_jobs=300,
            seed=11,
            mix=(NOISE, MixItem("lang:en", None, 2.0), NOISE, MixItem("white_noise", 11.0, 1.0, 3)),
        ),
    ],
    ids=["one job", "default mix", "repeated item and fixed seed"],
)
def test_the_arrays_are_the_plan_job_for_job(config: WorkloadConfig) -> None:
    jobs = planned(config)
    assert [jobs.planned(i) for i in range(len(jobs))] == list(plan(config))


def test_hand_placed_jobs_keep_their_ids_and_must_be_in_order() -> None:
    placed = [PlannedJob(0, "job-A", 0.0, NOISE, 3), PlannedJob(1, "job-B", 21.0, NOISE, 4)]
    jobs = from_planned(placed)
    assert [jobs.planned(i) for i in range(2)] == placed and len(jobs.items) == 1
    with pytest.raises(ConfigError, match="indices must be 0..n-1"):
        from_planned(placed[::-1])
