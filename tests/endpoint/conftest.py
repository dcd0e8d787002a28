"""`asrlab serve` as a user runs it, started once for the session (``served``), stopped by its
pid with SIGTERM, which it must survive with exit 0 (tests/endpoint/serving.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serving import Served, start, stop


@pytest.fixture(scope="session")
def served(worker_processes: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``asrlab serve --model tiny.en --remedy streaming --max-upload-mb 2``: hard_kill with live
    segments, so a stream and a disconnect both show what they do."""
    log = tmp_path_factory.mktemp("served") / "stderr.log"
    args = ["--model", "tiny.en", "--remedy", "streaming", "--max-upload-mb", "2"]
    process, url = start(args, log)
    try:
        yield Served(url, process.pid)
    finally:
        code = stop(process)
    assert code == 0, f"asrlab serve exited {code} on SIGTERM (143: uvicorn re-raised it)"
