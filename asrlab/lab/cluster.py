"""Sweep points on a Dask distributed cluster: one task per point, one fresh process per task.

``asrlab sweep FILE --scheduler tcp://HOST:PORT`` (or ``local``) calls this in place of the local
process pool; everything else (the cache, the run folder, the table) stays in asrlab.lab. The
workers read the notebook and write the point's folder by path, so a remote cluster needs the run
folder on a filesystem they share with the client, at the same path, and the same asrlab install.
``distributed`` is imported here only, when a sweep asks for a scheduler.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from asrlab.errors import ConfigError
from asrlab.lab.point import PointCall, PointProcess

if TYPE_CHECKING:
    from distributed import Client

LOCAL = "local"  # --scheduler local: a LocalCluster of --jobs single-threaded worker processes
# Long enough for a scheduler across a LAN to answer, short enough that a typo fails at once.
CONNECT_TIMEOUT_S = 10.0
# No dashboard (bokeh is not a dependency), and the scheduler's health routes on a free port:
# a LocalCluster beside a `dask scheduler` would otherwise warn that 8787 is taken.
NO_DASHBOARD = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}}


@contextlib.contextmanager
def connect(scheduler: str, workers: int) -> Iterator[tuple[Client, int]]:
    """A client of ``scheduler`` and the points it runs at once (its worker threads); closed after.

    ``"local"`` starts a LocalCluster of ``workers`` processes of one thread each and closes it.
    An address that is malformed, does not answer or has no workers within CONNECT_TIMEOUT_S is a
    ConfigError, before anything is submitted.
    """
    from distributed import Client, LocalCluster
    from distributed import TimeoutError as WaitTimeout  # asyncio's: not the builtin on 3.10

    if scheduler == LOCAL:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, **NO_DASHBOARD
        )
        with cluster, Client(cluster) as client:
            yield client, workers
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, ValueError) as e:  # OSError: timed out; ValueError: no port, bad scheme
        why = f"no Dask scheduler there ({e}); start one with `dask scheduler`, or use `local`"
        raise ConfigError("scheduler", scheduler, why) from e
    with client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except WaitTimeout as e:
            why = f"the scheduler has no workers after {CONNECT_TIMEOUT_S:g} s; start `dask worker`"
            raise ConfigError("scheduler", scheduler, why) from e
        yield client, sum(client.nthreads().values())


def run_points(
    client: Client, calls: list[PointCall]
) -> Iterator[tuple[str, str | None, float, dict[str, Any]]]:
    """(point_id, error text or None, seconds, provenance where it ran) as the points finish."""
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]  # two sweeps on one cluster never share a task key
    futures = {}
    for call in calls:
        key = f"asrlab-point-{call[3]}-{token}"
        futures[client.submit(run_point_in_process, *call, key=key, pure=False)] = call[3]
    for future in as_completed(futures):
        try:
            error, seconds, where = future.result()
        except Exception as e:  # the worker died under it (KilledWorker), or lost the task
            error, seconds, where = f"{type(e).__name__}: {e}", float("nan"), {}
        yield futures[future], error, seconds, where


def run_point_in_process(
    notebook: str, folder: str, params: dict[str, Any], point_id: str, timeout_s: float | None
) -> tuple[str | None, float, dict[str, Any]]:
    """The Dask task: the point in a fresh process (`PointProcess`), plus where it ran.

    Dask runs tasks in worker threads, but papermill chdirs the whole process: the child has it
    to itself. A nanny's worker is a daemonic process, which multiprocessing may not start
    children from, hence subprocess. The provenance is the worker's (host, CPU, versions), not
    the client's.
    """
    from asrlab import provenance

    error, seconds = PointProcess((notebook, folder, params, point_id, timeout_s)).wait()
    return error, seconds, provenance.record(dask_host=socket.gethostname())
