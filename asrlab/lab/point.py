"""One sweep point: its notebook executed in this process, within its time limit.

`run_point` is what every runner calls, in a process of its own (the local pool's worker, or a
fresh process per Dask task): papermill chdirs the whole process, and the point's timeout is a
SIGALRM that only a main thread receives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from asrlab.errors import PointTimeout
from asrlab.lab import notebooks

# One point's `run_point` arguments: notebook, folder, params, point_id, timeout_s.
PointCall = tuple[str, str, dict[str, Any], str, float | None]


def point_environ() -> dict[str, str]:
    """This process's environment less what Dask set in it for its own workers' sake.

    A Dask nanny exports ``distributed.nanny.pre-spawn-environ`` (OMP_NUM_THREADS=1,
    MALLOC_TRIM_THRESHOLD_=65536, ...) and PYTHONHASHSEED=6640 into every worker, and a
    ``LocalCluster`` sets them in the process that starts it too. Inherited by a point,
    MALLOC_TRIM_THRESHOLD_ alone nearly doubled a base-model decode here (12 s -> 23 s), and
    OMP_NUM_THREADS=1 changed a noise clip's sampled fallback rungs (2 attempts became 3): a point
    must time and decode as it would in a fresh shell, on the cluster and in the local pool alike.
    A value other than Dask's was set by a person and is kept.
    """
    import dask

    injected = dask.config.get("distributed.nanny.pre-spawn-environ", default={})
    injected = injected | {"PYTHONHASHSEED": 6640}
    return {k: v for k, v in os.environ.items() if k not in injected or v != str(injected[k])}


def use_environ(environ: dict[str, str]) -> None:
    """Pool-process initializer: the point's kernel inherits ``environ``, nothing else."""
    os.environ.clear()
    os.environ.update(environ)


def run_point(
    notebook: str, folder: str, params: dict[str, Any], point_id: str, timeout_s: float | None
) -> tuple[str | None, float]:
    """Execute one point in this (worker) process: (error text or None, seconds)."""
    t0 = time.perf_counter()
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        with _deadline(point_id, timeout_s):
            notebooks.execute(notebook, Path(folder), params)
        return None, time.perf_counter() - t0
    except Exception as e:
        # PapermillExecutionError's str() is the whole traceback; ename/evalue is what failed.
        text = f"{e.ename}: {e.evalue}" if hasattr(e, "ename") else f"{type(e).__name__}: {e}"
        return text, time.perf_counter() - t0


_REALARM_S = 0.5  # once a point is due, its alarm repeats until the run has stopped


@contextlib.contextmanager
def _deadline(point_id: str, timeout_s: float | None) -> Iterator[None]:
    """Raise PointTimeout after ``timeout_s``; kill the kernel the interrupted run leaves behind.

    A run can swallow the alarm's exception: nbclient's asyncio loop logs one raised inside a
    callback and waits on, and jupyter_client's network discovery, while it starts the kernel,
    catches every exception (a full suite twice saw a 4 s point run its whole 60 s). So the
    handler kills the kernel itself, and the alarm repeats every `_REALARM_S` until the run
    stops: a kernel started after a swallowed alarm dies at the next one. Whatever the run then
    raises, or if it returns, it timed out.
    """
    if timeout_s is None:
        yield
        return
    expired = False
    # Only what the run starts is the kernel: a process the caller already had (multiprocessing's
    # resource tracker, a Dask nanny's helpers) lives on.
    spared = frozenset(psutil.Process().children(recursive=True))

    def expire(signum: int, frame: Any) -> None:
        nonlocal expired
        expired = True
        _kill_children(spared)
        raise PointTimeout(point_id, timeout_s)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s, _REALARM_S)
    try:
        yield
    except Exception as e:
        if expired and not isinstance(e, PointTimeout):
            raise PointTimeout(point_id, timeout_s) from e
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if expired:
            _kill_children(spared)  # a kernel started after the last alarm
    if expired:  # every alarm's exception was swallowed on the way out
        raise PointTimeout(point_id, timeout_s)


def _kill_children(spared: frozenset[psutil.Process]) -> None:
    """Kill this process's descendants except ``spared`` (psutil.Process equality is pid and
    start time, so a reused pid is not spared)."""
    # psutil is imported with the module: an import inside the handler can land in the middle
    # of the run's own import of psutil and find it half made.
    for child in psutil.Process().children(recursive=True):
        if child not in spared:
            with contextlib.suppress(psutil.Error):
                child.kill()
