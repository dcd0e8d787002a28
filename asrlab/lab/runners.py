"""Where a sweep's points run: a local process pool or a Dask cluster, behind one interface.

A `Runner` takes the points' `run_point` calls and yields each point's outcome as it finishes;
`connect` gives the one a sweep asked for (``--scheduler``), sized by ``--jobs`` here and by the
cluster's worker threads there. Either way every point runs in a process of its own
(`asrlab.lab.point`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from asrlab.lab.point import PointCall, point_environ, run_point, use_environ

if TYPE_CHECKING:
    from distributed import Client  # imported by asrlab.lab.cluster, for --scheduler only

LOCAL_POOL = "local-process-pool"  # sweep.json's `scheduler` without --scheduler
# (point_id, error text or None, seconds, provenance where it ran: None for this machine)
Finished = tuple[str, str | None, float, dict[str, Any] | None]


class Runner(Protocol):
    """Runs points; ``name`` goes into sweep.json, ``jobs`` is how many run at once."""

    name: str
    jobs: int

    def run(self, calls: list[PointCall]) -> Iterator[Finished]: ...


@dataclass(frozen=True)
class LocalPool:
    """``jobs`` spawned worker processes on this machine (no fork of a process holding threads)."""

    jobs: int
    name: str = LOCAL_POOL

    def run(self, calls: list[PointCall]) -> Iterator[Finished]:
        if not calls:
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            min(self.jobs, len(calls)),
            mp_context=context,
            initializer=use_environ,
            initargs=(point_environ(),),
        ) as pool:
            futures = {pool.submit(run_point, *call): call[3] for call in calls}
            for future in as_completed(futures):
                try:
                    error, seconds = future.result()
                except Exception as e:  # the worker process itself died (e.g. out of memory)
                    error, seconds = f"{type(e).__name__}: {e}", float("nan")
                yield futures[future], error, seconds, None


@dataclass(frozen=True)
class DaskRunner:
    """One task per point on a Dask cluster (each in a fresh process: `asrlab.lab.cluster`)."""

    client: Client
    jobs: int
    name: str

    def run(self, calls: list[PointCall]) -> Iterator[Finished]:
        from asrlab.lab import cluster

        if calls:
            yield from cluster.run_points(self.client, calls)


@contextlib.contextmanager
def connect(scheduler: str | None, jobs: int) -> Iterator[Runner]:
    """The runner for ``--scheduler``: None is the local pool of ``jobs``; ``"local"`` a Dask
    LocalCluster of ``jobs`` workers; ``"tcp://HOST:PORT"`` that cluster. A bad address is a
    ConfigError before anything is submitted; a cluster is closed after."""
    if scheduler is None:
        yield LocalPool(jobs)
        return
    from asrlab.lab import cluster  # imports distributed: only for a sweep that asks for it

    with cluster.connect(scheduler, jobs) as (client, workers):
        yield DaskRunner(client, workers, f"dask:{scheduler}")
