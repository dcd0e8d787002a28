"""The jobs a simulation runs, as arrays: the seeded plan and each job's drawn costs.

`workload.traffic.plan` gives a workload's jobs as objects, a `PlannedJob` each; a day of traffic
(864,000 jobs at 600 a minute) as objects took hundreds of MB before a single one had run. Here
the same plan and its costs are a few numpy arrays (about 45 bytes a job), and a job becomes
objects only while it is simulated (`Costs.each`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from asrlab.errors import ConfigError
from asrlab.sim.costs import Sampler
from asrlab.workload.sources import planned_audios
from asrlab.workload.traffic import MixItem, PlannedJob, WorkloadConfig, draws


@dataclass(frozen=True)
class Jobs:
    """A workload's jobs in arrival order, one array entry per job.

    Attributes:
        arrival_s: arrival instants, seconds after the workload's start (float64).
        item: each job's mix item, an index into ``items`` (equal items share one index).
        job_seed: each job's seed (the noise seed, or which clips a ``lang:`` item takes).
        items: the distinct mix items.
        ids: hand-placed jobs' ids; None names job i ``job-<i>``, zero-padded as `plan` does.
    """

    arrival_s: np.ndarray
    item: np.ndarray
    job_seed: np.ndarray
    items: tuple[MixItem, ...]
    ids: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.arrival_s)

    def id_width(self) -> int:
        """Digits of a planned job's number (`plan`: ``job-007`` among 1,000 jobs)."""
        return len(str(len(self) - 1))

    def job_id(self, index: int) -> str:
        if self.ids is not None:
            return self.ids[index]
        return f"job-{index:0{self.id_width()}d}"

    def planned(self, index: int) -> PlannedJob:
        """Job ``index`` as `plan` gives it."""
        return PlannedJob(
            index=index,
            job_id=self.job_id(index),
            arrival_s=float(self.arrival_s[index]),
            item=self.items[int(self.item[index])],
            job_seed=int(self.job_seed[index]),
        )


def planned(config: WorkloadConfig) -> Jobs:
    """`workload.traffic.plan(config)` as arrays: the same streams of the same seed, drawn the
    same way, so job for job the same arrivals, items and seeds (a test holds them equal)."""
    arrivals, picks, seeds = draws(config)
    # Equal items are one item, as they are one key when `plan`'s jobs are grouped by item.
    items = tuple(dict.fromkeys(config.mix))
    item = np.array([items.index(m) for m in config.mix], dtype=np.int32)[picks]
    for k, m in enumerate(items):
        if m.noise_seed is not None:
            seeds[item == k] = m.noise_seed
    return Jobs(arrivals, item, seeds, items)


def from_planned(jobs: Sequence[PlannedJob]) -> Jobs:
    """Hand-placed jobs (as the replay places its two) as arrays."""
    if [p.index for p in jobs] != list(range(len(jobs))):
        raise ConfigError("jobs", len(jobs), "indices must be 0..n-1 in arrival order")
    items = tuple(dict.fromkeys(p.item for p in jobs))
    return Jobs(
        arrival_s=np.array([p.arrival_s for p in jobs], dtype=float),
        item=np.array([items.index(p.item) for p in jobs], dtype=np.int32),
        job_seed=np.array([p.job_seed for p in jobs], dtype=np.int64),
        items=items,
        ids=tuple(p.job_id for p in jobs),
    )


@dataclass(frozen=True)
class Costs:
    """Each job's drawn costs (`costs.Draw`, for all jobs at once): arrays by job index."""

    vad_s: np.ndarray
    speech: np.ndarray
    service_s: np.ndarray
    sampled: np.ndarray
    row: np.ndarray  # the measured row each job drew (its stop points: `Sampler.stops_s`)
    scale: np.ndarray  # per item: the ratio of lengths its times were scaled by

    def each(
        self, jobs: Jobs, sampler: Sampler, chunk: int = 10_000
    ) -> Iterator[tuple[PlannedJob, float, bool, float, tuple[float, ...], bool]]:
        """Every job in arrival order as (`PlannedJob`, vad_s, speech, service_s, stops_s,
        sampled), made ``chunk`` jobs at a time (Python values of a whole day would cost as
        much memory as the objects they replace; one at a time, numpy's per-item cost)."""
        ids, width, scales = jobs.ids, jobs.id_width(), self.scale.tolist()
        for start in range(0, len(jobs), chunk):
            at = slice(start, start + chunk)
            arrivals, items, seeds = (
                a[at].tolist() for a in (jobs.arrival_s, jobs.item, jobs.job_seed)
            )
            drawn = zip(
                self.vad_s[at].tolist(),
                self.speech[at].tolist(),
                self.service_s[at].tolist(),
                self.row[at].tolist(),
                self.sampled[at].tolist(),
                strict=True,
            )
            for k, (arrival_s, item, seed, (vad_s, speech, service_s, row, sampled)) in enumerate(
                zip(arrivals, items, seeds, drawn, strict=True), start
            ):
                job_id = f"job-{k:0{width}d}" if ids is None else ids[k]
                p = PlannedJob(k, job_id, arrival_s, jobs.items[item], seed)
                yield p, vad_s, speech, service_s, sampler.stops_s(row, scales[item]), sampled


def draw(jobs: Jobs, sampler: Sampler, rng: np.random.Generator) -> Costs:
    """Every job's costs, drawn for all jobs of one mix item at once (fast for 100,000).

    The items take their turns in the order they first arrive and each draws for its jobs in
    arrival order: the order the draws were always made in, so a seed keeps its costs.
    """
    n = len(jobs)
    vad_s, service_s = np.empty(n), np.empty(n)
    speech, sampled = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    row = np.zeros(n, dtype=np.int32)
    scale = np.ones(len(jobs.items))
    present, first = np.unique(jobs.item, return_index=True)
    for k in present[np.argsort(first)]:
        members = np.flatnonzero(jobs.item == k)
        item = jobs.items[int(k)]
        audio = planned_audios(item, jobs.job_seed[members].tolist())
        d = sampler.draw(item.source, item.length_s, len(members), rng, audio)
        vad_s[members], service_s[members] = d.vad_s, d.service_s
        speech[members], sampled[members], row[members] = d.speech, d.sampled, d.rows
        scale[k] = d.scale
    return Costs(vad_s, speech, service_s, sampled, row, scale)
