"""Fault injection: kill workers at random moments while jobs run, and check every promise.

The promises (issue 3): every job ends exactly once, as ok, `AsrTimeout` or `WorkerCrashed`,
within its deadline plus a bound; an ok job carries its own text, never another job's. Used by
the test suite (30 jobs) and by ``benchmarks/worker_faults.py`` (200 and more).
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from asrlab.decoding.options import DecodeConfig
from asrlab.errors import AsrTimeout, WorkerCrashed
from asrlab.service.manager import WorkerManager


@dataclass
class FaultReport:
    """What happened to each job under random kills, and which promises were broken."""

    jobs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # "ok" or the error's class name
    kills: int = 0
    violations: list[str] = field(default_factory=list)
    worst_total_s: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.jobs} jobs: {dict(self.outcomes)}; {self.kills} kills; "
            f"slowest answer {self.worst_total_s:.2f} s; {len(self.violations)} violations"
        )


def _killer(
    manager: WorkerManager,
    rng: random.Random,
    stop: threading.Event,
    interval_s: tuple[float, float],
    report: FaultReport,
) -> None:
    while not stop.wait(rng.uniform(*interval_s)):
        for pid in manager.pids:
            try:
                os.kill(pid, signal.SIGKILL)
                report.kills += 1
            except ProcessLookupError:
                pass


def run_with_random_kills(
    manager: WorkerManager,
    clips: Mapping[str, np.ndarray],
    expected_text: Mapping[str, str],
    decode: DecodeConfig,
    *,
    n_jobs: int,
    seed: int = 0,
    kill_interval_s: tuple[float, float] = (0.2, 1.5),
    bound_s: float = 1.0,
    progress: bool = False,
) -> FaultReport:
    """Run ``n_jobs`` jobs one after another while a thread SIGKILLs the workers at random.

    ``expected_text`` maps a clip id to the text the same worker config produced without faults.
    """
    rng = random.Random(seed)
    report = FaultReport()
    stop = threading.Event()
    killer = threading.Thread(
        target=_killer, args=(manager, random.Random(seed + 1), stop, kill_interval_s, report)
    )
    killer.start()
    ids = sorted(clips)
    try:
        for i in range(n_jobs):
            clip_id = rng.choice(ids)
            job = manager.submit(clips[clip_id], decode, job_id=f"fault-{i}")
            try:
                result = job.result()
            except (AsrTimeout, WorkerCrashed) as e:
                report.outcomes[type(e).__name__] += 1
            else:
                report.outcomes["ok"] += 1
                if result.text != expected_text[clip_id]:
                    report.violations.append(f"{job.job_id}: text of another job: {result.text!r}")
            report.jobs += 1
            total_s = job.metrics.total_s or float("inf")
            report.worst_total_s = max(report.worst_total_s, total_s)
            timeout_s = job.metrics.timeout_s or float("inf")
            if total_s > timeout_s + bound_s:
                report.violations.append(f"{job.job_id}: answered after {total_s:.2f} s")
            answers = sum(1 for e in list(job._events.queue) if not isinstance(e, dict))
            if answers != 1:
                report.violations.append(f"{job.job_id}: answered {answers} times")
            if progress:
                print(f"{i + 1}/{n_jobs} {dict(report.outcomes)}", end="\r", flush=True)
    finally:
        stop.set()
        killer.join()
    return report
