"""`asrlab serve` started for a test (`asrlab.endpoint.process`: the listening line, /health, stop
by pid). A module of its own, not conftest.py, so tests can import `Served`: tests/conftest.py
holds the name ``conftest``."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from asrlab.endpoint import process as serve_process

STARTED_WITHIN_S = 120.0  # the interpreter, the imports, a worker loading tiny.en


@dataclass(frozen=True)
class Served:
    """A running `asrlab serve`: where it listens, and its process."""

    url: str
    pid: int


def start(args: list[str], log: Path) -> tuple[subprocess.Popen[str], str]:
    """``asrlab serve <args>`` on loopback (stderr to ``log``): its process and URL, ready."""
    server = serve_process.start(args, log=log, ready_within_s=STARTED_WITHIN_S)
    return server.process, server.url


stop = serve_process.stop


def family(pid: int) -> list[psutil.Process]:
    """The process ``pid`` and every descendant: the server, its workers, their resource tracker."""
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def alive(processes: list[psutil.Process]) -> list[int]:
    """The pids of ``processes`` still running (a zombie is not)."""
    running = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                running.append(p.pid)
        except psutil.NoSuchProcess:
            continue
    return running
