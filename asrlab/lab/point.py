"""One sweep point: its notebook executed in a process of its own, which dies with its parent.

Every runner starts a point as ``python -m asrlab.lab.point RESULT`` (`PointProcess`): its own
session, so the point and what it starts can be told apart from the sweep; a parent-death signal,
so the point does not outlive a sweep killed by SIGKILL (the OOM killer, a lost terminal); and its
time limit enforced from the parent, which kills the point's whole process tree (the notebook's
kernel runs in a session of its own, and the kernel's children in theirs), something no code
inside the point can swallow.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
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


def run_point(
    notebook: str, folder: str, params: dict[str, Any], point_id: str, timeout_s: float | None
) -> tuple[str | None, float]:
    """Execute one point in this process: (error text or None, seconds). ``timeout_s`` is the
    parent's to enforce (`PointProcess`); it is accepted here so a call is one tuple."""
    t0 = time.perf_counter()
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        notebooks.execute(notebook, Path(folder), params)
        return None, time.perf_counter() - t0
    except Exception as e:
        # PapermillExecutionError's str() is the whole traceback; ename/evalue is what failed.
        if hasattr(e, "ename") and hasattr(e, "evalue"):
            text = f"{e.ename}: {e.evalue}"
        else:
            text = f"{type(e).__name__}: {e}"
        return text, time.perf_counter() - t0


# How long a killed tree may take to go before the parent stops waiting for it.
_KILL_WAIT_S = 3.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class PointProcess:
    """One point running in a child process; `poll` it, or `kill` it and everything it started.

    The child's answer is pickled into a temporary file (stdout is the notebook kernel's too).
    ``timeout_s`` counts from the start; `poll` kills the tree once it has passed and answers
    with a `PointTimeout`'s text.
    """

    def __init__(self, call: PointCall, environ: dict[str, str] | None = None) -> None:
        self.point_id = call[3]
        self.timeout_s = call[4]
        fd, self._result = tempfile.mkstemp(prefix="asrlab-point-", suffix=".pickle")
        os.close(fd)
        self._stderr = tempfile.TemporaryFile()
        self.started = time.monotonic()
        # PR_SET_PDEATHSIG fires when the creating *thread* ends: asked for only from the main
        # thread (the local pool), not from a Dask worker's task threads, which come and go.
        watch = os.getpid() if threading.current_thread() is threading.main_thread() else 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "asrlab.lab.point", self._result, str(watch)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=point_environ() if environ is None else environ,
            start_new_session=True,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(pickle.dumps(call))
        self.proc.stdin.close()

    def poll(self) -> tuple[str | None, float] | None:
        """None while it runs; else (error text or None, seconds), the tree gone."""
        if self.proc.poll() is None:
            elapsed = time.monotonic() - self.started
            if self.timeout_s is None or elapsed < self.timeout_s:
                return None
            self.kill()
            return f"PointTimeout: {PointTimeout(self.point_id, self.timeout_s)}", elapsed
        return self._answer()

    def wait(self) -> tuple[str | None, float]:
        """Block until the point ends or its time is up."""
        while (answer := self.poll()) is None:
            time.sleep(_POLL_S)
        return answer

    def kill(self) -> None:
        """SIGKILL the point and every descendant, found before any dies (a killed parent's
        children are reparented and could no longer be found through it)."""
        kill_tree(self.proc.pid)
        self.proc.wait()
        self._cleanup()

    def _answer(self) -> tuple[str | None, float]:
        try:
            error, seconds = pickle.loads(Path(self._result).read_bytes())
        except (OSError, EOFError, pickle.UnpicklingError):  # it died before it could answer
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace").strip().splitlines()
            last = text[-1] if text else "no stderr"
            error = f"ChildProcessError: point process exited with {self.proc.returncode}: {last}"
            seconds = time.monotonic() - self.started
        self._cleanup()
        return error, seconds

    def _cleanup(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._result)
        self._stderr.close()


_POLL_S = 0.1


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``'s descendants and ``pid`` (if alive), and wait a little for them."""
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=_KILL_WAIT_S)


def _die_with_parent(parent_pid: int) -> None:
    """Linux: SIGTERM this process when its parent dies; the handler kills the tree first.
    ``parent_pid`` 0: not asked for."""
    import ctypes

    if not parent_pid:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)


def _on_term(signum: int, frame: Any) -> None:
    """Kill what this point started (its kernel, the kernel's workers), then go."""
    me = psutil.Process()
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()
    os._exit(128 + signum)


def _child(result: str, parent_pid: int) -> None:
    """``python -m asrlab.lab.point RESULT PARENT_PID``: run_point's arguments pickled on stdin,
    its answer pickled into RESULT."""
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    _die_with_parent(parent_pid)
    call = pickle.loads(sys.stdin.buffer.read())
    Path(result).write_bytes(pickle.dumps(run_point(*call)))


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
