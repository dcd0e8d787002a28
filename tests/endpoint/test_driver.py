"""`asrlab drive`'s client over httpx's mock transport: every job one row, every answer matched
to its job, every failure its ``error_type`` and cause, the summary's figures. No server runs
here (tests/endpoint/test_drive.py drives a real one)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from asrlab.endpoint.app import JOB_ID_HEADER
from asrlab.endpoint.drive_summary import format_summary
from asrlab.endpoint.driver import EVENTS, DriveConfig, DriveResult, drive, write
from asrlab.errors import AsrlabError, ConfigError
from asrlab.service.rows import JobRow
from asrlab.workload.sources import load_item
from asrlab.workload.traffic import MixItem, WorkloadConfig, plan

URL = "http://127.0.0.1:9"  # never reached: the mock transport answers
NOISE = WorkloadConfig(n_jobs=6, rate_per_min=60_000.0, seed=0, mix=(MixItem("pink_noise", 0.5),))
LEASE = "GPU lease timeout: GPU_USAGE_HIGH"
Handler = Callable[[httpx.Request], Any]


def _drive(handler: Handler, workload: WorkloadConfig = NOISE, **kw: Any) -> DriveResult:
    config = DriveConfig(URL, workload, **({"label": "peer:mock"} | kw))
    return drive(config, progress=False, transport=httpx.MockTransport(handler))


def _job(request: httpx.Request) -> str:
    return request.headers[JOB_ID_HEADER]


def _lab_row(job_id: str, status: str = "ok", **fields: Any) -> dict[str, Any]:
    """What `asrlab serve` puts in ``asrlab.row`` / ``error.asrlab``."""
    return asdict(JobRow(job_id=job_id, remedy="incident", status=status, **fields))


def _verbose(job_id: str, text: str = " hello", **row: Any) -> dict[str, Any]:
    return {"text": text, "language": "en", "asrlab": {"row": _lab_row(job_id, text=text, **row)}}


def test_one_row_per_job_in_plan_order_with_the_server_row_and_the_client_timings() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == EVENTS:
            return httpx.Response(200, json={"events": []})
        seen.append(request)
        job = _job(request)
        body = _verbose(job, lease_wait_s=0.25)
        return httpx.Response(200, json=body, headers={JOB_ID_HEADER: job})

    result = _drive(handler)
    frame = result.frame()
    assert [r.job_id for r in result.rows] == [j.job_id for j in plan(NOISE)]
    assert len(seen) == NOISE.n_jobs and len({_job(r) for r in seen}) == NOISE.n_jobs
    body = seen[0].read()
    for name, value in (("model", b"whisper-1"), ("model_name", b"whisper-1")):
        assert f'name="{name}"\r\n\r\n'.encode() + value in body
    assert b'name="response_format"\r\n\r\nverbose_json' in body and b"RIFF" in body
    assert (frame["status"] == "ok").all() and (frame["http_status"] == 200).all()
    assert (frame["remedy"] == "incident").all()  # the server's, not the label
    assert (frame["lease_wait_s"] == 0.25).all()  # the server's stage, kept
    assert (frame["audio_s"] == 0.5).all() and (frame["audio_class"] == "pink_noise").all()
    assert (frame["latency_s"] >= frame["client_wait_s"]).all() and frame["started_s"].notna().all()
    assert frame["attribution"].isna().all()
    assert frame["workload_n_jobs"].eq(6).all() and frame["drive_concurrency"].eq(8).all()
    s = result.summary
    assert (s.jobs, s.sent, s.ok, s.lost, s.duplicated) == (6, 6, 6, 0, 0)
    assert s.rtfx == pytest.approx(3.0 / result.wall_s)
    assert s.jobs_per_min == pytest.approx(360.0 / result.wall_s)


def test_an_answer_naming_another_job_raises() -> None:
    def header(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"text": ""}, headers={JOB_ID_HEADER: "job-9"})

    def row(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_verbose("job-9"))

    for handler in (header, row):
        with pytest.raises(AsrlabError, match="names"):
            _drive(handler)


@pytest.mark.parametrize(
    ("raised", "error_type"),
    [
        (httpx.ConnectError("refused"), "ConnectionError"),
        (httpx.ReadTimeout("slow"), "ClientTimeout"),
    ],
)
def test_no_http_answer_is_a_transport_failure(raised: Exception, error_type: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    result = _drive(handler)
    frame = result.frame()
    assert (frame["status"] == "failed").all() and frame["http_status"].isna().all()
    assert (frame["error_type"] == error_type).all()
    assert (frame["attribution"] == "transport").all()
    assert result.summary.transport == 6 and result.summary.ok == 0
    assert frame["latency_s"].notna().all()


@pytest.mark.parametrize(
    ("status", "body", "error_type", "cause"),
    [
        (503, {"error": {"message": LEASE, "code": "busy"}}, "LeaseRejected", "refused_other"),
        (504, {"error": {"message": "ASR task timeout"}}, "AsrTimeout", "own_timeout"),
        (400, {"detail": {"error": {"message": "bad"}}}, "AudioError", "bad_input"),
        (500, "Internal Server Error", "HTTP500", "own_timeout"),
        (429, {"error": {"message": "full", "code": "queue_full"}}, "QueueFull", "refused_other"),
        (500, {"error": {"message": "x", "code": "WorkerCrashed"}}, "WorkerCrashed", "own_timeout"),
    ],
)
def test_a_status_is_its_error_type_and_cause(
    status: int, body: Any, error_type: str, cause: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    frame = _drive(handler).frame()
    assert (frame["error_type"] == error_type).all() and (frame["attribution"] == cause).all()
    assert (frame["http_status"] == status).all() and frame["client_error"].str.len().gt(0).all()


def test_the_server_events_attribute_a_refusal_behind_an_overdue_lease_to_its_holder() -> None:
    """job-0 holds the lease past its hold_max; job-1 is refused then: a cascade, job-0 blamed."""
    events = [
        {"t_ms": 0.0, "kind": "grant", "token": 1, "holder": "job-0", "detail": ""},
        {"t_ms": 9000.0, "kind": "cancel", "token": 2, "holder": "job-1", "detail": ""},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == EVENTS:
            return httpx.Response(200, json=events)
        job = _job(request)
        if job == "job-1":
            row = _lab_row(job, "failed", error_type="LeaseRejected", client_error=LEASE)
            error = {"message": LEASE, "code": "LeaseRejected", "asrlab": row}
            return httpx.Response(503, json={"error": error}, headers={JOB_ID_HEADER: job})
        return httpx.Response(200, json=_verbose(job, lease_hold_max_s=5.0))

    result = _drive(handler, replace(NOISE, n_jobs=2))
    assert result.events == tuple(events)
    second = result.rows[1]
    assert (second.error_type, second.attribution) == ("LeaseRejected", "cascade")
    assert second.blamed == "job-0"
    assert result.summary.cascade == 1


def test_concurrency_bounds_the_requests_in_flight_and_max_wall_s_the_drive() -> None:
    state = {"now": 0, "most": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == EVENTS:
            return httpx.Response(404)
        state["now"] += 1
        state["most"] = max(state["most"], state["now"])
        await asyncio.sleep(0.15)
        state["now"] -= 1
        return httpx.Response(200, json={"text": "", "language": "en"})

    workload = WorkloadConfig(n_jobs=8, rate_per_min=60_000.0, mix=NOISE.mix)
    result = _drive(handler, workload, concurrency=2, max_wall_s=0.4)
    frame = result.frame()
    assert state["most"] == 2
    sent = frame["started_s"].notna()
    assert 2 <= sent.sum() < 8 and (frame.loc[~sent, "status"] == "not_sent").all()
    assert frame.loc[~sent, "attribution"].isna().all() and result.events == ()
    assert (frame.loc[sent, "remedy"] == "peer:mock").all()  # the peer says no remedy: the label
    assert result.summary.sent == int(sent.sum()) and result.summary.lost == 0


def test_the_summary_scores_answered_speech_and_write_keeps_rows_and_summary(
    tmp_path: Path,
) -> None:
    workload = WorkloadConfig(n_jobs=4, rate_per_min=60_000.0, mix=(MixItem("lang:en", None),))
    references = {j.job_id: load_item(j.item, j.job_seed).reference for j in plan(workload)}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == EVENTS:
            return httpx.Response(404)
        job = _job(request)
        text = references[job] if job != "job-0" else ""  # job-0: every word deleted
        return httpx.Response(200, json={"text": text, "language": "en"})

    result = _drive(handler, workload)
    s = result.summary
    assert s.wer_clips == 4 and s.wer == pytest.approx(0.25) and s.cer_clips == 0
    assert s.latency_p50_s.n == 4 and s.latency_p50_s.low <= s.latency_p50_s.value
    printed = format_summary(s)
    for metric in ("jobs/min", "RTFx", "latency p95", "WER (en)", "failed by cause"):
        assert metric in printed
    write(result, tmp_path)
    back = pd.read_parquet(tmp_path / "rows.parquet")
    assert list(back["job_id"]) == [r.job_id for r in result.rows]
    blob = json.loads((tmp_path / "summary.json").read_text())
    assert blob["ok"] == 4 and blob["config"]["drive_url"] == URL
    assert blob["latency_p95_s"]["n"] == 4


def test_a_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        DriveConfig(URL, NOISE, concurrency=0)
    with pytest.raises(ConfigError, match="url"):
        DriveConfig("127.0.0.1:8000", NOISE)


def test_the_command_drives_a_workload_file_and_writes_its_run(tmp_path: Path) -> None:
    """`asrlab drive` against a loopback port nothing listens on: every job a connection
    error, the summary printed, the run written."""
    from typer.testing import CliRunner

    from asrlab.cli.main import app
    from asrlab.endpoint.peer import free_port

    spec = tmp_path / "workload.yaml"
    spec.write_text("n_jobs: 5\nrate_per_min: 60000\nmix: [[pink_noise, 0.5, 1.0]]\n")
    out = tmp_path / "run"
    url = f"http://127.0.0.1:{free_port()}"
    args = ["drive", url, "--workload", str(spec), "--jobs", "3", "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--label", "nobody"])
    assert result.exit_code == 0, result.output
    assert "transport 3" in result.output and "latency p95" in result.output
    frame = pd.read_parquet(out / "rows.parquet")
    assert len(frame) == 3 and (frame["error_type"] == "ConnectionError").all()
    assert (frame["remedy"] == "nobody").all()
    bad = CliRunner().invoke(app, ["drive", url, "--workload", str(spec), "--concurrency", "0"])
    assert bad.exit_code == 2 and "concurrency" in bad.output


def test_a_drive_runs_where_an_event_loop_already_runs() -> None:
    """As in a notebook, whose kernel runs a loop: the drive runs its own in a thread."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"text": ""})

    async def inside() -> DriveResult:
        return _drive(handler)

    assert asyncio.run(inside()).summary.ok == NOISE.n_jobs
