"""`asrlab drive` against a real `asrlab serve` on loopback: every job answered once and matched
to its job, and a server SIGKILLed in the middle of a drive (its in-flight jobs connection
errors, the drive done within its timeout, none of its processes alive 5 s later)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from serving import Served, alive, family, start

from asrlab.endpoint.driver import DriveConfig, DriveResult, drive
from asrlab.workload.traffic import MixItem, WorkloadConfig, plan

GONE_WITHIN_S = 5.0  # must-show 6: no process of a SIGKILLed server alive 5 s later
# tiny.en knows English only: short English speech (3.3 s, 6.6 s), and short noise.
ENGLISH = (
    MixItem("en_librispeech_1089-134686-0001"),
    MixItem("en_librispeech_1089-134686-0002"),
    MixItem("pink_noise", 1.0),
)


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_a_drive_answers_every_job_once_matched_to_it(served: Served) -> None:
    """Against the session's ``served`` (tests/endpoint/conftest.py: tiny.en, streaming)."""
    workload = WorkloadConfig(n_jobs=12, rate_per_min=600.0, seed=1, mix=ENGLISH)
    result = drive(DriveConfig(served.url, workload, concurrency=4, timeout_s=60.0), progress=False)
    frame = result.frame()
    # The driver raises on an answer naming another job; here each row is the server's own row
    # of the job it was sent for, in the plan's order.
    assert list(frame["job_id"]) == [job.job_id for job in plan(workload)]
    assert result.summary.lost == 0 and result.summary.duplicated == 0
    assert frame["http_status"].notna().all() and frame["t_received_s"].notna().all()
    assert (frame["remedy"] == "streaming").all()
    # Four clients on one worker: a job that waits past the lease's acquire timeout is refused,
    # as the incident's were (how many depends on the machine's speed); each failure is a lab
    # error the server named, attributed to a cause.
    ok = frame["status"] == "ok"
    assert ok.iloc[0], frame[["job_id", "client_error"]]  # the first job finds the lease free
    failed = frame[~ok]
    assert failed["error_type"].isin(["LeaseRejected", "AsrTimeout"]).all(), failed["client_error"]
    assert failed["attribution"].notna().all()
    speech = ok & (frame["audio_class"] == "speech")
    assert frame.loc[speech, "text"].str.len().gt(0).all()
    assert result.summary.wer_clips == int(speech.sum())


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_a_server_killed_mid_drive_ends_its_jobs_as_connection_errors(
    worker_processes: None, tmp_path: Path
) -> None:
    process, url = start(["--model", "tiny.en", "--remedy", "incident"], tmp_path / "serve.log")
    try:
        tree = family(process.pid)  # the server, its workers, their resource tracker
        # Six 20 s stretches of speech, all arriving at once, three in flight: the server's
        # one worker is still on the first of them two seconds in.
        workload = WorkloadConfig(
            n_jobs=6, rate_per_min=60_000.0, seed=2, mix=(MixItem("lang:en", 20.0),)
        )
        config = DriveConfig(url, workload, concurrency=3, timeout_s=60.0)
        done: list[DriveResult] = []
        took: list[float] = []

        def run() -> None:
            t0 = time.monotonic()
            done.append(drive(config, progress=False))
            took.append(time.monotonic() - t0)

        driver = threading.Thread(target=run)
        driver.start()
        time.sleep(2.0)
        killed_at = time.monotonic()
        process.kill()
        process.wait(10)
        deadline = killed_at + GONE_WITHIN_S
        while alive(tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(tree), f"alive {GONE_WITHIN_S} s after SIGKILL: {alive(tree)}"
        driver.join(config.timeout_s)
        assert not driver.is_alive(), "the drive did not end within its timeout"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert took[0] < config.timeout_s
    frame = done[0].frame()
    failed = frame[frame["status"] != "ok"]
    assert len(failed) >= 1 and (failed["error_type"] == "ConnectionError").all()
    assert (failed["attribution"] == "transport").all() and failed["http_status"].isna().all()
    assert (failed["started_s"] < 0.5).any()  # sent at the start: in flight at the kill
    assert done[0].events == ()  # the dead server publishes none


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_a_job_id_answered_once_is_served_again(served: Served) -> None:
    """A seeded workload sends the same job ids on every drive (job-00, job-01...): a job id
    whose request was answered must be served anew. (uvicorn's receive() says http.disconnect
    once a response is complete; a server that takes that for the client going away cancels a
    job it has already forgotten, and the next job of that id fails at once.)"""
    from asrlab.audio import corpus

    clip = corpus.get("en_librispeech_1089-134686-0001").path.read_bytes()
    statuses = []
    for _ in range(2):
        answer = httpx.post(
            f"{served.url}/v1/audio/transcriptions",
            files={"file": ("clip.wav", clip)},
            data={"model": "whisper-1"},
            headers={"X-Asrlab-Job-Id": "test-drive-same-id"},
            timeout=60.0,
        )
        statuses.append((answer.status_code, answer.text[:200]))
    assert [s for s, _ in statuses] == [200, 200], statuses
