"""Starting and stopping `asrlab serve` as a user runs it: a process on loopback (an ephemeral
port), stopped by its pid with SIGTERM. A module of its own (not conftest.py) so that tests can
import `Served`, `start` and `stop`: tests/conftest.py holds the name ``conftest``."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from asrlab.endpoint.server import LISTENING

STARTED_WITHIN_S = 120.0  # the interpreter, the imports, a worker loading tiny.en
STOPPED_WITHIN_S = 30.0
SERVE = [sys.executable, "-m", "asrlab.cli.main", "serve", "--host", "127.0.0.1", "--port", "0"]


@dataclass(frozen=True)
class Served:
    """A running `asrlab serve`: where it listens, and its process."""

    url: str
    pid: int


def start(args: list[str], log: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``asrlab serve <args>`` (stderr to ``log``); its process and URL once /health is
    200."""
    with log.open("w") as err:
        process = subprocess.Popen(SERVE + args, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the first line, printed before uvicorn starts
        assert line.startswith(LISTENING), f"not the listening line: {line!r}\n{log.read_text()}"
        url = line.split()[-1]
        deadline = time.monotonic() + STARTED_WITHIN_S
        while httpx.get(f"{url}/health").status_code != 200:
            assert process.poll() is None, f"asrlab serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"/health not 200 within {STARTED_WITHIN_S} s"
            time.sleep(0.2)
    except BaseException:
        stop(process)
        raise
    return process, url


def stop(process: subprocess.Popen[str]) -> int | None:
    """SIGTERM, then SIGKILL past a bound; the exit code of a SIGTERM that worked, else None."""
    process.terminate()
    try:
        return process.wait(STOPPED_WITHIN_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        return None
