"""The app over a fake service (canned `JobRecord`s): statuses, bodies and headers on the wire."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from asrlab.decoding.trace import SegmentRecord
from asrlab.endpoint.app import JOB_ID_HEADER, AppConfig, create_app
from asrlab.errors import AsrlabError, AudioError, LeaseRejected
from asrlab.service.node import JobRecord
from asrlab.service.rows import Mark

JFK = " And so my fellow Americans, ask not what your country can do for you."


def ok(job_id: str, data: bytes) -> JobRecord:
    record = JobRecord(job_id=job_id, remedy="recommended", received=0.0, audio_s=11.0)
    record.mark(Mark.RECEIVED, 0.0)
    record.mark(Mark.RESULT_DELIVERED, 1.0)
    record.status, record.text, record.answered_s = "ok", JFK.strip(), 1.0
    record.segments = (SegmentRecord(0, 0.0, 11.0, JFK, 0.0, -0.2, 1.3, 0.01),)
    return record


def failing(error: AsrlabError) -> Callable[[str, bytes], JobRecord]:
    def run(job_id: str, data: bytes) -> JobRecord:
        record = JobRecord(job_id=job_id, remedy="incident", received=0.0)
        record.mark(Mark.RECEIVED, 0.0)
        record.status, record.client_error = "failed", str(error)
        record.mark(Mark.FAILED, 0.5, type(error).__name__)
        record.answered_s = 0.5
        return record

    return run


class FakeHost:
    served_models = ("tiny.en", "whisper-1")
    acquire_timeout_ms = 5000.0

    def __init__(self, run: Callable[[str, bytes], JobRecord] = ok) -> None:
        self.up = threading.Event()
        self.closed = False
        self._run = run

    def start(self) -> None:
        pass

    def ready(self) -> bool:
        return self.up.is_set()

    def failure(self) -> str | None:
        return None

    def run(self, job_id: str, data: bytes) -> JobRecord:
        return self._run(job_id, data)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def served() -> Iterator[tuple[FakeHost, TestClient]]:
    host = FakeHost()
    with TestClient(create_app(host, AppConfig(max_upload_mb=0.01))) as client:
        host.up.set()
        yield host, client
    assert host.closed


def post(client: TestClient, body: bytes = b"RIFF", **fields: str) -> object:
    fields.setdefault("model", "tiny.en")
    return client.post("/v1/audio/transcriptions", files={"file": ("a.wav", body)}, data=fields)


def test_health_is_503_until_the_service_is_up() -> None:
    host = FakeHost()
    with TestClient(create_app(host)) as client:
        loading = client.get("/health")
        assert loading.status_code == 503 and loading.headers["Retry-After"] == "5"
        assert post(client).status_code == 503  # type: ignore[attr-defined]
        host.up.set()
        assert client.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("json", lambda r: r.json() == {"text": JFK.strip()}),
        ("text", lambda r: r.text == JFK.strip()),
        ("srt", lambda r: r.text.startswith("1\n00:00:00,000 --> 00:00:11,000\nAnd so")),
        ("vtt", lambda r: r.text.startswith("WEBVTT")),
        ("verbose_json", lambda r: r.json()["asrlab"]["timeline"][0]["event"] == "received"),
    ],
)
def test_each_response_format(served: tuple[FakeHost, TestClient], fmt: str, check: object) -> None:
    response = post(served[1], response_format=fmt)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert check(response)  # type: ignore[operator]
    assert response.headers[JOB_ID_HEADER].startswith("req-")  # type: ignore[attr-defined]
    assert "total;dur=1000.0" in response.headers["Server-Timing"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("error", "status", "extra"),
    [
        (LeaseRejected("GPU lease timeout: GPU_USAGE_HIGH", "GPU_USAGE_HIGH", 5000.0), 503,
         {"Retry-After": "5"}),
        (AudioError("undecodable", "cannot decode"), 400, {}),
    ],
)  # fmt: skip
def test_a_failed_job_is_its_status_with_the_nodes_text(
    error: AsrlabError, status: int, extra: dict[str, str]
) -> None:
    host = FakeHost(failing(error))
    host.up.set()
    with TestClient(create_app(host)) as client:
        response = client.post(
            "/v1/audio/transcriptions",
            files={"file": ("a.wav", b"x")},
            data={"model": "whisper-1"},
            headers={JOB_ID_HEADER: "job-b"},
        )
    assert response.status_code == status
    assert {k: response.headers[k] for k in extra} == extra
    body = response.json()["error"]
    assert body["message"] == str(error) and body["code"] == type(error).__name__
    assert body["asrlab"]["job_id"] == response.headers[JOB_ID_HEADER] == "job-b"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"files": {"file": ("a.wav", b"x" * 20_000)}, "data": {"model": "tiny.en"}}, 413,
         "upload_too_large"),
        ({"data": {"model": "tiny.en"}}, 400, "missing_file"),
        ({"files": {"file": ("a.wav", b"x")}, "data": {"model": "large"}}, 400, "model_not_found"),
        ({"files": {"file": ("a.wav", b"x")}, "data": {"model": "tiny.en",
                                                        "response_format": "xml"}}, 400,
         "unsupported_value"),
        ({"files": {"file": ("a.wav", b"x")}, "data": {"model": "tiny.en", "language": "de"}},
         400, "unsupported_value"),
        ({"files": {"file": ("a.wav", b"x")}, "data": {"model": "tiny.en",
                                                        "temperature": "hot"}}, 422,
         "invalid_value"),
    ],
    ids=["413", "no_file", "model", "format", "language_not_applied", "temperature"],
)  # fmt: skip
def test_bad_requests(
    served: tuple[FakeHost, TestClient], kwargs: dict[str, object], status: int, code: str
) -> None:
    response = served[1].post("/v1/audio/transcriptions", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_a_413_by_counting_a_body_without_length() -> None:
    host = FakeHost()
    host.up.set()
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
    with TestClient(create_app(host, AppConfig(max_upload_mb=0.001))) as client:
        response = client.post(
            "/v1/audio/transcriptions",
            content=iter([body, b"x" * 4096, b"\r\n--b--\r\n"]),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
    assert response.status_code == 413


def test_the_queue_full_answer_is_429() -> None:
    entered, release = threading.Event(), threading.Event()

    def blocked(job_id: str, data: bytes) -> JobRecord:
        entered.set()
        release.wait(10)
        return ok(job_id, data)

    host = FakeHost(blocked)
    host.up.set()
    with TestClient(create_app(host, AppConfig(workers=1, queue=0))) as client:
        first = threading.Thread(target=post, args=(client,))
        first.start()
        try:
            assert entered.wait(10), "the first request never reached the node"
            response = post(client)  # the only place is held
        finally:
            release.set()
            first.join(10)
    assert response.status_code == 429  # type: ignore[attr-defined]
    assert response.json()["error"]["type"] == "rate_limit_error"  # type: ignore[attr-defined]
    assert response.headers["Retry-After"] == "5"  # type: ignore[attr-defined]
