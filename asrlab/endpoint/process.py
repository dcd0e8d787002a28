"""`asrlab serve` as a process of its own, as a user runs it: started, ready, stopped by its pid.

The tests, the benchmarks and anything else that needs the server in another process start it
here, so that all of them read the same listening line, wait for the same ``/health`` and stop it
the same way (SIGTERM, then SIGKILL past a bound).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from asrlab.endpoint.server import LISTENING
from asrlab.errors import AsrlabError

SERVE = (sys.executable, "-m", "asrlab.cli.main", "serve", "--host", "127.0.0.1", "--port", "0")
READY_WITHIN_S = 300.0  # the interpreter, the imports, a worker assembling and loading base
STOP_WITHIN_S = 30.0  # SIGTERM's drain (grace_s) is shorter in every caller; then SIGKILL


@dataclass(frozen=True)
class ServeProcess:
    """A running `asrlab serve`: where it listens, and its process."""

    url: str
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid


def start(
    args: Sequence[str], *, log: Path | None = None, ready_within_s: float = READY_WITHIN_S
) -> ServeProcess:
    """``asrlab serve ARGS`` on an ephemeral loopback port (stderr to ``log``, else inherited),
    returned once ``/health`` says 200; stopped again if it does not get there."""
    err = log.open("w") if log is not None else None
    try:
        process = subprocess.Popen(
            [*SERVE, *args], stdout=subprocess.PIPE, stderr=err, text=True
        )
    finally:
        if err is not None:
            err.close()  # the child holds its own descriptor
    try:
        return ServeProcess(_wait_ready(process, ready_within_s, log), process)
    except BaseException:
        stop(process)
        raise


def _wait_ready(process: subprocess.Popen[str], within_s: float, log: Path | None) -> str:
    def why() -> str:
        return "" if log is None or not log.exists() else f"\n{log.read_text()[-4000:]}"

    assert process.stdout is not None
    line = process.stdout.readline()  # the first line, printed before uvicorn starts
    if not line.startswith(LISTENING):
        raise AsrlabError(f"asrlab serve did not start: {line!r}{why()}")
    url = line.split()[-1]
    deadline = time.monotonic() + within_s
    while httpx.get(f"{url}/health", timeout=10).status_code != 200:
        if process.poll() is not None:
            raise AsrlabError(f"asrlab serve exited with {process.returncode}{why()}")
        if time.monotonic() > deadline:
            raise AsrlabError(f"asrlab serve: /health not 200 within {within_s:.0f} s{why()}")
        time.sleep(0.2)
    return url


def stop(process: subprocess.Popen[Any], within_s: float = STOP_WITHIN_S) -> int | None:
    """SIGTERM, then SIGKILL where it still runs ``within_s`` later: the exit code of a SIGTERM
    that worked (0 for a server that drained), else None."""
    if process.poll() is not None:
        return process.returncode
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    try:
        return process.wait(within_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(within_s)
        return None


@contextlib.contextmanager
def serving(args: Sequence[str], *, log: Path | None = None) -> Iterator[ServeProcess]:
    """``with serving(["--remedy", "incident"]) as server:`` started, ready, and stopped on exit."""
    server = start(args, log=log)
    try:
        yield server
    finally:
        stop(server.process)
