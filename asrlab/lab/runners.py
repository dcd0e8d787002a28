"""Where a sweep's points run: a local process pool or a Dask cluster, behind one interface.

A `Runner` takes the points' `run_point` calls and yields each point's outcome as it finishes;
`connect` gives the one a sweep asked for (``--scheduler``), sized by ``--jobs`` here and by the
cluster's worker threads there. Either way every point runs in a process of its own
(`asrlab.lab.point.PointProcess`), its time limit enforced from outside it, and a runner that
stops early (an exception, Ctrl-C, SIGTERM) kills every point it started before it returns.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from asrlab.lab.point import PointCall, PointProcess, point_environ

if TYPE_CHECKING:
    from distributed import Client  # imported by asrlab.lab.cluster, for --scheduler only

LOCAL_POOL = "local-process-pool"  # sweep.json's `scheduler` without --scheduler
# (point_id, error text or None, seconds, provenance where it ran: None for this machine)
Finished = tuple[str, str | None, float, dict[str, Any] | None]


class Runner(Protocol):
    """Runs points; ``name`` goes into sweep.json, ``jobs`` is how many run at once."""

    @property
    def name(self) -> str: ...
    @property
    def jobs(self) -> int: ...

    # A generator, not any iterator: the sweep closes it when it stops early, which runs the
    # runner's `finally` (no point outlives the sweep).
    def run(self, calls: list[PointCall]) -> Generator[Finished, None, None]: ...


@dataclass(frozen=True)
class LocalPool:
    """Up to ``jobs`` point processes at once on this machine, each started fresh."""

    jobs: int
    name: str = LOCAL_POOL

    def run(self, calls: list[PointCall]) -> Generator[Finished, None, None]:
        waiting = list(reversed(calls))
        running: list[PointProcess] = []
        environ = point_environ()
        try:
            while waiting or running:
                while waiting and len(running) < self.jobs:
                    running.append(PointProcess(waiting.pop(), environ))
                for point in list(running):
                    answer = point.poll()
                    if answer is not None:
                        running.remove(point)
                        yield point.point_id, *answer, None
                time.sleep(_POLL_S)
        finally:  # the sweep stopped early (or the caller stopped iterating): no point lives on
            for point in running:
                point.kill()


_POLL_S = 0.1


@dataclass(frozen=True)
class DaskRunner:
    """One task per point on a Dask cluster (each in a fresh process: `asrlab.lab.cluster`)."""

    client: Client
    jobs: int
    name: str

    def run(self, calls: list[PointCall]) -> Generator[Finished, None, None]:
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
