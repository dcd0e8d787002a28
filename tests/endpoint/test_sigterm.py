"""SIGTERM with requests in flight: each is answered (200 if it finished within the grace period,
else 503 ``shutting_down``), the server exits 0, and none of its processes outlives it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from serving import alive, family, start
from test_served import JFK, TRANSCRIBE, _lab, _pink_noise

GRACE_S = 3.0
GONE_WITHIN_S = 5.0


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_sigterm_answers_every_inflight_request_and_exits_0(
    worker_processes: None, tmp_path: Path
) -> None:
    args = ["--model", "tiny.en", "--remedy", "streaming", "--grace-s", str(GRACE_S)]
    process, url = start(args, tmp_path / "stderr.log")
    server_family = family(process.pid)
    uploads = {"jfk": JFK.read_bytes(), "noise": _pink_noise()}
    answers: dict[str, int | str] = {}

    def send(name: str) -> None:
        try:
            response = httpx.post(
                url + TRANSCRIBE,
                files={"file": (f"{name}.wav", uploads[name])},
                data={"model": "tiny.en"},
                headers={"X-Asrlab-Job-Id": name},
                timeout=60,
            )
            answers[name] = response.status_code
        except httpx.HTTPError as e:
            answers[name] = type(e).__name__

    senders = [threading.Thread(target=send, args=(name,)) for name in uploads]
    try:
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 30
        while len(_lab(url)["inflight"]) < 2:
            assert time.monotonic() < deadline, "the two requests were never in flight together"
            time.sleep(0.05)
        process.terminate()
        code = process.wait(GRACE_S + 30)
    finally:
        if process.poll() is None:
            process.kill()
        for sender in senders:
            sender.join(60)
    assert code == 0, f"exit {code} on SIGTERM"
    assert set(answers.values()) <= {200, 503}, answers
    assert len(answers) == 2
    gone_by = time.monotonic() + GONE_WITHIN_S
    while (left := alive(server_family)) and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert not left, f"processes of the server alive {GONE_WITHIN_S} s after it exited: {left}"

