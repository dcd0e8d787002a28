"""`asrlab serve` as a user runs it: a process on loopback, spoken to by the official `openai`
client, stopped by its pid."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import asrlab
from asrlab.endpoint.server import LISTENING

JFK = Path(asrlab.__file__).parent / "data" / "audio" / "jfk.flac"
STARTED_WITHIN_S = 120.0  # the interpreter, the imports, a worker loading tiny.en
STOPPED_WITHIN_S = 30.0


def _stop(process: subprocess.Popen[str]) -> int | None:
    """SIGTERM, then SIGKILL past a bound; the exit code of a SIGTERM that worked, else None."""
    process.terminate()
    try:
        return process.wait(STOPPED_WITHIN_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        return None


@pytest.fixture(scope="module")
def served_url(worker_processes: None) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "asrlab.cli.main", "serve", "--model", "tiny.en", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the first line, printed before uvicorn starts
        assert line.startswith(LISTENING), f"not the listening line: {line!r}"
        url = line.split()[-1]
        deadline = time.monotonic() + STARTED_WITHIN_S
        while httpx.get(f"{url}/health").status_code != 200:
            assert process.poll() is None, "asrlab serve exited"
            assert time.monotonic() < deadline, f"/health not 200 within {STARTED_WITHIN_S} s"
            time.sleep(0.2)
        yield url
    finally:
        code = _stop(process)
    assert code == 0, f"asrlab serve exited {code} on SIGTERM (143: uvicorn re-raised it)"


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_the_openai_client_transcribes_jfk_in_each_format(served_url: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{served_url}/v1", api_key="x", max_retries=0)

    def create(response_format: str) -> object:
        with JFK.open("rb") as f:
            return client.audio.transcriptions.create(
                model="tiny.en",
                file=f,
                response_format=response_format,  # type: ignore[arg-type]
            )

    plain = create("json")
    assert "ask not what your country can do for you" in plain.text.lower()  # type: ignore[attr-defined]

    verbose = create("verbose_json")
    assert verbose.duration == pytest.approx(11.0, abs=0.1)  # type: ignore[attr-defined]
    assert verbose.language == "en"  # type: ignore[attr-defined]
    assert verbose.segments and verbose.segments[0].start == 0.0  # type: ignore[attr-defined]
    lab = verbose.model_extra["asrlab"]  # type: ignore[attr-defined]
    events = [e["event"] for e in lab["timeline"]]
    assert events[:3] == ["received", "decoded", "VAD done"]
    assert "lease granted" in events and "result delivered" in events
    assert lab["attempts"] and lab["row"]["status"] == "ok"

    text = create("text")
    assert isinstance(text, str) and "ask not" in text.lower()

    srt = create("srt")
    assert isinstance(srt, str) and srt.startswith("1\n00:00:00,000 --> ")


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_a_bad_upload_is_400_with_its_reason_and_the_server_serves_on(served_url: str) -> None:
    bad = httpx.post(
        f"{served_url}/v1/audio/transcriptions",
        files={"file": ("a.wav", b"not audio at all")},
        data={"model": "tiny.en"},
        timeout=60,
    )
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"]["code"] == "AudioError"
    good = httpx.post(
        f"{served_url}/v1/audio/transcriptions",
        files={"file": ("jfk.flac", JFK.read_bytes())},
        data={"model": "whisper-1"},
        timeout=60,
    )
    assert good.status_code == 200 and "ask not" in good.json()["text"].lower()
