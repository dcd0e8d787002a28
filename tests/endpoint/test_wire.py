"""The wire's records: every failure's status and body, the request checks, the response formats."""

from __future__ import annotations

import json

import pytest

from asrlab.decoding.trace import Attempt, DecodeTrace, SegmentRecord, Window
from asrlab.endpoint import formats, wire
from asrlab.errors import (
    AsrlabError,
    AsrTimeout,
    AudioError,
    ConfigError,
    JobCancelled,
    JobFailed,
    LeaseRejected,
    ModelNotFound,
    WorkerCrashed,
)
from asrlab.service.node import JobRecord
from asrlab.service.rows import Mark

LEASE = LeaseRejected("GPU lease timeout: GPU_USAGE_HIGH", "GPU_USAGE_HIGH", 5000.0)


@pytest.mark.parametrize(
    ("error", "status", "param", "retry_after", "reason"),
    [
        (LEASE, 503, None, "5", None),
        (AsrTimeout("job-1", 30.0, 30.2, "hard_kill", "running"), 504, None, None, None),
        (AudioError("undecodable", "cannot decode the upload", "bytes"), 400, "file", None,
         "undecodable"),
        (ConfigError("language", "xx", "no such language"), 400, "language", None, None),
        (WorkerCrashed("job-1", 123, -9), 500, None, None, None),
        (JobFailed("job-1", "RuntimeError: boom"), 500, None, None, None),
        (JobCancelled("job-1", "lease 3 revoked"), 500, None, None, None),
        (ModelNotFound("base", "not installed"), 500, None, None, None),
        (AsrlabError("anything else"), 500, None, None, None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)  # fmt: skip
def test_every_lab_error_has_its_status_and_exact_text(
    error: AsrlabError, status: int, param: str | None, retry_after: str | None, reason: str | None
) -> None:
    w = wire.error_for(error, retry_after_s=5)
    assert (w.status, w.code, w.param, w.reason) == (status, type(error).__name__, param, reason)
    assert w.headers().get("Retry-After") == retry_after
    body = w.body()["error"]
    assert body["message"] == str(error)
    assert body["type"] == ("server_error" if status >= 500 else "invalid_request_error")
    assert ("reason" in body) == (reason is not None)


def test_the_incident_refusal_is_503_with_exactly_the_clients_text() -> None:
    w = wire.error_for(LEASE, retry_after_s=wire.retry_after(5000.0))
    assert w.status == 503
    assert w.body()["error"]["message"] == "GPU lease timeout: GPU_USAGE_HIGH"
    assert w.headers() == {"Retry-After": "5"}


@pytest.mark.parametrize(
    ("make", "status", "code", "type_"),
    [
        (lambda: wire.upload_too_large(25), 413, "upload_too_large", "invalid_request_error"),
        (lambda: wire.queue_full(9, 2), 429, "queue_full", "rate_limit_error"),
        (lambda: wire.not_ready(1), 503, "not_ready", "server_error"),
    ],
    ids=["413", "429", "503"],
)
def test_refusals_before_a_job(make: object, status: int, code: str, type_: str) -> None:
    w = make()  # type: ignore[operator]
    assert (w.status, w.code, w.body()["error"]["type"]) == (status, code, type_)


@pytest.mark.parametrize(("acquire_ms", "seconds"), [(0, 1), (200, 1), (1000, 1), (5000, 5),
                                                     (5001, 6)])  # fmt: skip
def test_retry_after_is_one_acquire_timeout_in_whole_seconds(
    acquire_ms: float, seconds: int
) -> None:
    assert wire.retry_after(acquire_ms) == seconds


def _failed(error: AsrlabError) -> JobRecord:
    record = JobRecord(job_id="job-1", remedy="incident", received=100.0)
    record.mark(Mark.RECEIVED, 100.0)
    record.status, record.client_error = "failed", str(error)
    record.mark(Mark.FAILED, 100.5, type(error).__name__)
    return record


def test_a_failed_record_is_answered_from_its_class_and_text() -> None:
    record = _failed(LEASE)
    w = wire.error_of(record, retry_after_s=5)
    assert (w.status, w.code, w.message) == (503, "LeaseRejected", str(LEASE))
    body = w.body(record.row())["error"]
    assert body["asrlab"]["error_type"] == "LeaseRejected"
    json.dumps(body)  # the row travels as JSON


SERVED = ("tiny.en", "whisper-1")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"model": "tiny.en"}, wire.TranscriptionRequest("tiny.en")),
        ({"model": "whisper-1", "response_format": "srt", "language": "en"},
         wire.TranscriptionRequest("whisper-1", "srt", language="en")),
        ({"model": "tiny.en", "temperature": "0"}, wire.TranscriptionRequest("tiny.en")),
        ({"model": "tiny.en", "temperature": "0.4", "stream": "true", "prompt": "JFK"},
         wire.TranscriptionRequest("tiny.en", temperature=0.4, stream=True, prompt="JFK")),
        ({"model": "tiny.en", "timestamp_granularities[]": ["segment"]},
         wire.TranscriptionRequest("tiny.en")),
    ],
)  # fmt: skip
def test_parse_fields_accepts(fields: dict[str, str], expected: wire.TranscriptionRequest) -> None:
    assert wire.parse_fields(fields, SERVED) == expected


@pytest.mark.parametrize(
    ("fields", "status", "code", "param"),
    [
        ({}, 400, "model_not_found", "model"),
        ({"model": "large-v3"}, 400, "model_not_found", "model"),
        ({"model": "tiny.en", "response_format": "xml"}, 400, "unsupported_value",
         "response_format"),
        ({"model": "tiny.en", "timestamp_granularities[]": ["word"]}, 400, "unsupported_value",
         "timestamp_granularities[]"),
        ({"model": "tiny.en", "temperature": "hot"}, 422, "invalid_value", "temperature"),
        ({"model": "tiny.en", "temperature": "1.5"}, 422, "invalid_value", "temperature"),
        ({"model": "tiny.en", "stream": "maybe"}, 422, "invalid_value", "stream"),
    ],
)  # fmt: skip
def test_parse_fields_refuses(fields: dict[str, str], status: int, code: str, param: str) -> None:
    with pytest.raises(wire.RequestRejected) as caught:
        wire.parse_fields(fields, SERVED)
    assert (caught.value.error.status, caught.value.error.code) == (status, code)
    assert caught.value.error.param == param


SEGMENTS = (
    SegmentRecord(0, 0.0, 2.5, " And so my fellow Americans,", 0.0, -0.2, 1.3, 0.01),
    SegmentRecord(0, 2.5, 3671.25, " ask not.", 0.2, -0.4, 1.1, 0.02),
)


def _ok() -> JobRecord:
    attempt = Attempt(0, 0, 0.0, "beam", 5, 1, 12, 12, 448, 0.8, 1.3, -0.2, 0.01, (), "ok", "x")
    window = Window(0, attempts=[attempt])
    trace = DecodeTrace(
        model="tiny.en", audio_s=11.0, config={}, language="en", transcribe_s=0.4, iterate_s=0.6,
        windows=[window],
    )  # fmt: skip
    record = JobRecord(job_id="job-7", remedy="recommended", received=10.0, audio_s=11.0)
    record.mark(Mark.RECEIVED, 10.0)
    record.mark(Mark.DECODED, 10.1)
    record.vad_s, record.lease_wait_s = 0.05, 0.0
    record.mark(Mark.RESULT_DELIVERED, 11.2)
    record.status, record.text = "ok", "And so ask not."
    record.segments, record.trace = SEGMENTS, trace
    record.answered_s = 1.2
    return record


def test_srt_and_vtt_goldens() -> None:
    assert formats.srt(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:02,500\nAnd so my fellow Americans,\n\n"
        "2\n00:00:02,500 --> 01:01:11,250\nask not.\n\n"
    )
    assert formats.vtt(SEGMENTS) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nAnd so my fellow Americans,\n\n"
        "00:00:02.500 --> 01:01:11.250\nask not.\n\n"
    )


@pytest.mark.parametrize(
    ("fmt", "media", "check"),
    [
        ("json", formats.JSON, lambda b: b == {"text": "And so ask not."}),
        ("text", formats.TEXT, lambda b: b == "And so ask not."),
        ("srt", formats.TEXT, lambda b: b.startswith("1\n00:00:00,000 --> ")),
        ("vtt", formats.TEXT, lambda b: b.startswith("WEBVTT\n\n")),
        ("verbose_json", formats.JSON, lambda b: b["duration"] == 11.0 and b["language"] == "en"),
    ],
)
def test_render_each_format(fmt: str, media: str, check: object) -> None:
    got_media, body = formats.render(_ok(), fmt)
    assert got_media == media
    assert check(body)  # type: ignore[operator]


def test_verbose_json_carries_the_timeline_attempts_and_row() -> None:
    body = formats.verbose_json(_ok())
    assert [s["seek"] for s in body["segments"]] == [0, 0]
    assert [s["id"] for s in body["segments"]] == [0, 1]
    lab = body["asrlab"]
    assert [e["event"] for e in lab["timeline"]] == ["received", "decoded", "result delivered"]
    assert lab["timeline"][1]["t_s"] == pytest.approx(0.1)
    attempts = [(a["window"], a["temperature"], a["seconds"]) for a in lab["attempts"]]
    assert attempts == [(0, 0.0, 0.8)]
    assert lab["row"]["job_id"] == "job-7" and lab["row"]["t_decoded_s"] == pytest.approx(0.1)
    json.dumps(body)


def test_server_timing_names_each_stage_in_ms() -> None:
    header = formats.server_timing(_ok(), upload_s=0.002)
    assert header == (
        "upload;dur=2.0, decode;dur=100.0, vad;dur=50.0, lease;dur=0.0, transcribe;dur=400.0, "
        "segments;dur=600.0, total;dur=1200.0"
    )


@pytest.mark.parametrize(
    ("policy", "action"),
    [("hard_kill", "cancelled"), ("cooperative", "cancelled"), ("legacy_thread", "ignored"),
     ("none", "ignored")],
)  # fmt: skip
def test_a_disconnect_cancels_only_where_the_policy_stops_jobs(policy: str, action: str) -> None:
    from asrlab.service.policy import Policy

    assert wire.on_disconnect(Policy(policy)) == action


def test_decode_for_applies_language_prompt_and_temperature() -> None:
    from asrlab.decoding.options import preset

    base = preset("incident")
    asked = wire.TranscriptionRequest("tiny.en", language="fr", prompt="Bonjour", temperature=0.3)
    decode = wire.decode_for(asked, base)
    assert (decode.language, decode.initial_prompt, decode.temperature) == ("fr", "Bonjour", (0.3,))
    assert decode.beam_size == base.beam_size
    assert wire.decode_for(wire.TranscriptionRequest("tiny.en"), base) is base
    with pytest.raises(wire.RequestRejected) as refused:
        wire.parse_fields({"model": "tiny.en", "language": "xx"}, ["tiny.en"])
    assert (refused.value.error.status, refused.value.error.param) == (400, "language")


def test_sse_frames_one_json_data_line_per_event() -> None:
    segment = SegmentRecord(0, 0.0, 2.0, " Hi\nthere", 0.0, -0.1, 1.0, 0.0)
    frame = formats.sse(formats.delta_event(segment))
    assert frame.startswith(b"data: {") and frame.endswith(b"}\n\n") and frame.count(b"\n") == 2
    assert json.loads(frame[6:])["delta"] == " Hi\nthere"
