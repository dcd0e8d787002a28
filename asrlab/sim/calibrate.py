"""Measuring the simulator's service-time table on this machine, for real.

Every job runs alone through the real service (`asrlab.workload.real`), with no deadline that could
cut its decode short, so each row is a job's whole cost (`asrlab.sim.costs`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pandas as pd

from asrlab.errors import ConfigError
from asrlab.service.manager import WorkerManager
from asrlab.service.worker import WorkerConfig
from asrlab.sim.costs import COLUMNS, _cost_row, from_workload_rows
from asrlab.workload.real import run_workload
from asrlab.workload.traffic import WorkloadConfig


def calibrate(
    config: Any,
    *,
    n_jobs: int = 64,
    seed: int = 1000,
    rate_per_min: float = 20.0,
    respawns: int = 2,
    progress: bool = True,
) -> pd.DataFrame:
    """Measure a table on this machine: ``n_jobs`` of `config`'s mix, one at a time, for real.

    The jobs are real workloads (`asrlab.workload.real.run_workload`), one per mix item with
    ``n_jobs // len(mix)`` jobs each (every item measured equally often, however rare: noise
    decides the tail, and whether a noise signal climbs the fallback ladder is close to a coin
    flip, so its rate needs tens of signals), arriving at ``rate_per_min`` and sent by one
    client, with no deadline that could cut a decode short (ASR timeout and hold_max of an
    hour): every decode runs to its end alone on the machine. The arrivals leave the worker
    idle between most jobs, as traffic does: measured here, clean speech decoded back to back
    ran up to about 25 % faster (medians per item) than in a workload with idle gaps, and a
    table measured that way made the simulator too optimistic. ``seed`` should differ from the
    seeds of the workloads the table is checked against. ``respawns`` times a worker's start
    (process and model load) as `WorkerManager` restarts one after a kill.
    """

    if not isinstance(config, WorkloadConfig):
        raise ConfigError("config", type(config).__name__, "must be a WorkloadConfig")
    per_item = n_jobs // len(config.mix)
    if per_item < 1:
        raise ConfigError("n_jobs", n_jobs, f"fewer than the mix's {len(config.mix)} items")
    # One workload per item rather than a weighted draw: a draw of 64 from four items gave one
    # 11 jobs and another 26, and the item short of jobs was the noise that decides the tail.
    parts = [
        measure_alone(
            replace(config, mix=(item,), n_jobs=per_item, seed=seed + k),
            rate_per_min=rate_per_min,
            progress=progress,
            measured_by=f"calibrate seed={seed + k} remedy={config.remedy}",
        )
        for k, item in enumerate(config.mix)
    ]
    table = pd.concat(parts, ignore_index=True)
    worker = WorkerConfig(
        model=config.model, compute_type=config.compute_type, cpu_threads=config.worker_threads
    )
    starts = []
    for _ in range(respawns):
        t0 = time.monotonic()
        with WorkerManager(worker):
            starts.append(time.monotonic() - t0)
    like = {str(k): v for k, v in table[table["kind"] == "job"].iloc[0].items()}
    extra = pd.DataFrame([_cost_row(like, "respawn", s) for s in starts], columns=list(COLUMNS))
    return pd.concat([table, extra], ignore_index=True)


def measure_alone(
    config: Any,
    *,
    rate_per_min: float = 20.0,
    progress: bool = True,
    measured_by: str | None = None,
) -> pd.DataFrame:
    """The table rows of `config`'s own jobs (same seed: the same audio), each measured alone.

    One client, arrivals at ``rate_per_min`` (idle gaps, as `calibrate`), and no deadline that
    could cut a decode short. Measured for a workload before it runs under load, they let the
    simulator draw each job's cost from its own audio (`Sampler.draw`), so that a check of the
    simulator against that workload tests what the simulator adds (queueing, leases, timeouts,
    cascades) rather than which few noise signals of the workload happen to climb the fallback
    ladder, which a table of other signals can only give as a rate.
    """

    if not isinstance(config, WorkloadConfig):
        raise ConfigError("config", type(config).__name__, "must be a WorkloadConfig")
    alone = replace(
        config,
        clients=1,
        rate_per_min=rate_per_min,
        asr_timeout_s=3600.0,
        segments_timeout_s=3600.0,
        hold_max_ms=3.6e6,
    )
    result = run_workload(alone, progress=progress)
    by = measured_by or f"alone seed={config.seed}"
    return from_workload_rows(result.frame(), measured_by=by)
