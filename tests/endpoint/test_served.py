"""`asrlab serve` as a user runs it (tests/endpoint/conftest.py's ``served``: tiny.en, the
``streaming`` remedy, a 2 MB upload limit): the official `openai` client, bad requests, and a
client that leaves."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
from serving import Served

import asrlab
from asrlab.endpoint.drive_rows import wav_bytes

JFK = Path(asrlab.__file__).parent / "data" / "audio" / "jfk.flac"
TRANSCRIBE = "/v1/audio/transcriptions"


def post(url: str, files: dict[str, Any] | None = None, **data: str) -> httpx.Response:
    data.setdefault("model", "tiny.en")
    return httpx.post(url + TRANSCRIBE, files=files, data=data, timeout=120)


def jfk_is_served(url: str) -> None:
    good = post(url, {"file": ("jfk.flac", JFK.read_bytes())}, model="whisper-1")
    assert good.status_code == 200, good.text
    assert "ask not" in good.json()["text"].lower()


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_the_openai_client_transcribes_jfk_in_each_format_and_streamed(served: Served) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{served.url}/v1", api_key="x", max_retries=0)

    def create(response_format: str) -> Any:
        with JFK.open("rb") as f:
            return client.audio.transcriptions.create(
                model="tiny.en",
                file=f,
                response_format=response_format,  # type: ignore[arg-type]
            )

    plain = create("json")
    assert "ask not what your country can do for you" in plain.text.lower()

    verbose = create("verbose_json")
    assert verbose.duration == pytest.approx(11.0, abs=0.1)
    assert verbose.language == "en"
    assert verbose.segments and verbose.segments[0].start == 0.0
    lab = verbose.model_extra["asrlab"]
    events = [e["event"] for e in lab["timeline"]]
    assert events[:3] == ["received", "decoded", "VAD done"]
    assert "lease granted" in events and "result delivered" in events
    assert lab["attempts"] and lab["row"]["status"] == "ok"

    text = create("text")
    assert isinstance(text, str) and "ask not" in text.lower()

    srt = create("srt")
    assert isinstance(srt, str) and srt.startswith("1\n00:00:00,000 --> ")

    arrived: list[tuple[str, float]] = []
    with JFK.open("rb") as f:
        stream = client.audio.transcriptions.create(model="tiny.en", file=f, stream=True)
        for event in stream:
            arrived.append((event.type, time.monotonic()))
    kinds = [kind for kind, _ in arrived]
    assert kinds[0] == "transcript.text.delta" and kinds[-1] == "transcript.text.done"
    assert set(kinds[:-1]) == {"transcript.text.delta"}
    assert arrived[0][1] < arrived[-1][1]  # the first segment came before the final event


SIX_CHANNELS = wav_bytes(np.random.default_rng(0).uniform(-0.1, 0.1, (48_000 * 2, 6)), 48_000)
BAD = [
    ("empty", {"file": ("a.wav", b"")}, {}, 400, "empty"),
    ("not_audio", {"file": ("a.wav", np.random.default_rng(1).bytes(20_000))}, {}, 400,
     "undecodable"),
    ("truncated", {"file": ("jfk.flac", JFK.read_bytes()[: JFK.stat().st_size // 2])}, {}, 400,
     "truncated"),
    ("six_channels_48k", {"file": ("six.wav", SIX_CHANNELS)}, {}, 200, None),
    ("over_limit", {"file": ("big.wav", b"\0" * (3 * 1024 * 1024))}, {}, 413, "upload_too_large"),
    ("no_file", None, {}, 400, "missing_file"),
    ("response_format", {"file": ("jfk.flac", b"x")}, {"response_format": "xml"}, 400,
     "unsupported_value"),
    ("model", {"file": ("jfk.flac", b"x")}, {"model": "large-v9"}, 400, "model_not_found"),
]  # fmt: skip


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_bad_requests_are_their_4xx_with_a_reason_and_the_server_serves_on(
    served: Served,
) -> None:
    seen = {}
    for name, files, fields, status, reason in BAD:
        response = post(served.url, files, **fields)
        seen[name] = response.status_code
        assert response.status_code == status, (name, response.text)
        if status != 200:
            error = response.json()["error"]
            assert error["message"], name
            assert reason in (error.get("reason"), error["code"]), (name, error)
    assert httpx.get(served.url + "/health").status_code == 200
    jfk_is_served(served.url)


def _lab(url: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(url + "/v1/lab/state", timeout=10).json()
    return state


def _pink_noise() -> bytes:
    """The cascade's noise job (tests/scenarios.py): tiny.en decodes it for seconds."""
    from asrlab.audio import corpus

    samples, _ = corpus.load_source("pink_noise", length_s=11.2, noise_seed=2)
    return wav_bytes(samples, 16_000)


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_a_client_that_leaves_frees_the_worker_and_the_lease_within_half_a_second(
    served: Served,
) -> None:
    """Under hard_kill (the ``streaming`` remedy) a client that closes its connection after 1 s
    gets its job cancelled: its worker killed (the pid reaped) and its lease released within
    0.5 s of the close, as the server's timeline and the process table show."""
    noise = _pink_noise()
    for trial in range(3):
        deadline = time.monotonic() + 60
        while not (pids := _lab(served.url)["service"]["worker_pids"]):  # a respawn loading
            assert time.monotonic() < deadline, "no worker came back"
            time.sleep(0.1)
        (pid,) = pids
        job_id = f"leaves-{trial}"
        try:
            httpx.post(
                served.url + TRANSCRIBE,
                files={"file": ("noise.wav", noise)},
                data={"model": "tiny.en"},
                headers={"X-Asrlab-Job-Id": job_id},
                timeout=httpx.Timeout(30.0, read=1.0),
            )
            raise AssertionError("the noise was answered within 1 s: nothing to leave")
        except httpx.ReadTimeout:
            closed = time.monotonic()  # the one-shot client has closed its socket
        while psutil.pid_exists(pid) and time.monotonic() - closed < 5:
            time.sleep(0.005)
        reaped = time.monotonic()
        deadline = time.monotonic() + 10
        while not (job := next((j for j in _lab(served.url)["jobs"] if j["job_id"] == job_id),
                               None)):  # fmt: skip
            assert time.monotonic() < deadline, "the abandoned job was never recorded"
            time.sleep(0.05)
        at = {e["event"]: job["received"] + e["t_s"] for e in job["timeline"]}
        assert job["http_status"] == 499 and job["disconnect_action"] == "cancelled"
        assert at["client disconnected: cancelled"] - closed < 0.5
        assert at["lease released"] - closed <= 0.5, at
        assert reaped - closed <= 0.5
        assert not _lab(served.url)["service"]["leases"]
    jfk_is_served(served.url)
