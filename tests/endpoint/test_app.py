"""The app over a fake service (canned `JobRecord`s): statuses, bodies and headers on the wire."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from asrlab.decoding.options import DecodeConfig
from asrlab.decoding.trace import SegmentRecord
from asrlab.endpoint.app import JOB_ID_HEADER, AppConfig, create_app
from asrlab.endpoint.host import OnSegment
from asrlab.endpoint.state import LeaseView, ServiceView
from asrlab.errors import AsrlabError, AudioError, LeaseRejected
from asrlab.service.node import JobRecord
from asrlab.service.remedies import remedy
from asrlab.service.rows import Mark

JFK = " And so my fellow Americans, ask not what your country can do for you."


SEGMENTS = (
    SegmentRecord(0, 0.0, 5.0, " And so my fellow Americans,", 0.0, -0.2, 1.3, 0.01),
    SegmentRecord(0, 5.0, 11.0, " ask not what your country can do for you.", 0.0, -0.2, 1.3, 0.01),
)
Run = Callable[[str, bytes, OnSegment | None], JobRecord]


def ok(job_id: str, data: bytes, on_segment: OnSegment | None = None) -> JobRecord:
    record = JobRecord(job_id=job_id, remedy="recommended", received=0.0, audio_s=11.0)
    record.mark(Mark.RECEIVED, 0.0)
    for segment in SEGMENTS:
        if on_segment is not None:
            on_segment(segment)
    record.mark(Mark.RESULT_DELIVERED, 1.0)
    record.status, record.text, record.answered_s = "ok", JFK.strip(), 1.0
    record.segments = SEGMENTS
    return record


def failing(error: AsrlabError, after_segments: int = 0) -> Run:
    def run(job_id: str, data: bytes, on_segment: OnSegment | None = None) -> JobRecord:
        record = JobRecord(job_id=job_id, remedy="incident", received=0.0)
        record.mark(Mark.RECEIVED, 0.0)
        for segment in SEGMENTS[:after_segments]:
            if on_segment is not None:
                on_segment(segment)
        record.status, record.client_error, record.error = "failed", str(error), error
        record.mark(Mark.FAILED, 0.5, type(error).__name__)
        record.answered_s = 0.5
        return record

    return run


class FakeHost:
    """`Serving` with canned records; it remembers what it was asked."""

    served_models = ("tiny.en", "whisper-1")
    acquire_timeout_ms = 5000.0
    model = "tiny.en"

    def __init__(self, run: Run = ok, remedy_name: str = "recommended") -> None:
        self.up = threading.Event()
        self.closed = False
        self._run = run
        self.remedy = remedy(remedy_name)
        self.decodes: list[DecodeConfig | None] = []
        self.cancelled: list[tuple[str, str]] = []
        self.settled: list[str] = []
        self.service = ServiceView(
            lease_state="GPU_USAGE_HIGH",
            leases=(LeaseView(7, "job-a", 21.5, 20.0, True),),
            lease_waiters=1,
            worker_pids=(4242,),
            restarts=2,
            late_results=1,
        )

    def start(self) -> None:
        pass

    def ready(self) -> bool:
        return self.up.is_set()

    def failure(self) -> str | None:
        return None

    def run(
        self,
        job_id: str,
        data: bytes,
        *,
        decode: DecodeConfig | None = None,
        on_segment: OnSegment | None = None,
    ) -> JobRecord:
        self.decodes.append(decode)
        return self._run(job_id, data, on_segment)

    def cancel(self, job_id: str, reason: str) -> bool:
        self.cancelled.append((job_id, reason))
        return True

    def settle(self, record: JobRecord) -> None:
        self.settled.append(record.job_id)

    def view(self) -> ServiceView:
        return self.service

    def events(self, since: int) -> list[dict[str, Any]]:
        return [{"t_ms": float(i), "kind": "grant", "token": i} for i in range(3)][since:]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake() -> Iterator[tuple[FakeHost, TestClient]]:
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
        ("srt", lambda r: r.text.startswith("1\n00:00:00,000 --> 00:00:05,000\nAnd so")),
        ("vtt", lambda r: r.text.startswith("WEBVTT")),
        ("verbose_json", lambda r: r.json()["asrlab"]["timeline"][0]["event"] == "received"),
    ],
)
def test_each_response_format(fake: tuple[FakeHost, TestClient], fmt: str, check: object) -> None:
    response = post(fake[1], response_format=fmt)
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
        ({"files": {"file": ("a.wav", b"x")}, "data": {"model": "tiny.en", "language": "xx"}},
         400, "unsupported_value"),
        ({"files": {"file": ("a.wav", b"x")}, "data": {"model": "tiny.en",
                                                        "temperature": "hot"}}, 422,
         "invalid_value"),
    ],
    ids=["413", "no_file", "model", "format", "language", "temperature"],
)  # fmt: skip
def test_bad_requests(
    fake: tuple[FakeHost, TestClient], kwargs: dict[str, object], status: int, code: str
) -> None:
    response = fake[1].post("/v1/audio/transcriptions", **kwargs)  # type: ignore[arg-type]
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

    def blocked(job_id: str, data: bytes, on_segment: OnSegment | None) -> JobRecord:
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


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {}),
        ({"language": "de"}, {"language": "de"}),
        ({"prompt": "Kennedy, Americans"}, {"initial_prompt": "Kennedy, Americans"}),
        ({"temperature": "0.4"}, {"temperature": (0.4,)}),
        ({"temperature": "0"}, {}),  # 0: the remedy's own ladder
    ],
    ids=["none", "language", "prompt", "temperature", "temperature_0"],
)
def test_request_options_are_applied_to_the_remedys_decode(
    fake: tuple[FakeHost, TestClient], fields: dict[str, str], expected: dict[str, Any]
) -> None:
    host, client = fake
    assert post(client, **fields).status_code == 200  # type: ignore[attr-defined]
    assert host.decodes[-1] == replace(host.remedy.decode, **expected)


def events_of(text: str) -> list[dict[str, Any]]:
    """The ``data:`` payloads of a server-sent event stream, in order (each framed by a blank
    line, as OpenAI's client splits them)."""
    assert text.endswith("\n\n")
    chunks = text.split("\n\n")[:-1]
    assert all(c.startswith("data: ") and "\n" not in c for c in chunks), chunks
    return [json.loads(c.removeprefix("data: ")) for c in chunks]


def test_stream_sends_a_delta_per_segment_then_done(fake: tuple[FakeHost, TestClient]) -> None:
    response = post(fake[1], stream="true")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "text/event-stream"  # type: ignore[attr-defined]
    events = events_of(response.text)  # type: ignore[attr-defined]
    assert [e["type"] for e in events] == ["transcript.text.delta"] * 2 + ["transcript.text.done"]
    assert [e["delta"] for e in events[:2]] == [s.text for s in SEGMENTS]
    assert events[1]["segment"]["start_s"] == 5.0
    assert events[-1]["text"] == JFK.strip()
    assert events[-1]["asrlab"]["timeline"][0]["event"] == "received"


def test_stream_that_fails_first_is_a_plain_error_and_later_an_error_event() -> None:
    lease = LeaseRejected("GPU lease timeout: GPU_USAGE_HIGH", "GPU_USAGE_HIGH", 5000.0)
    host = FakeHost(failing(lease))
    host.up.set()
    with TestClient(create_app(host)) as client:
        early = post(client, stream="true")
        host._run = failing(AudioError("undecodable", "cut short"), after_segments=1)
        late = post(client, stream="true")
    assert early.status_code == 503  # type: ignore[attr-defined]
    assert early.json()["error"]["message"] == "GPU lease timeout: GPU_USAGE_HIGH"  # type: ignore[attr-defined]
    assert late.status_code == 200  # type: ignore[attr-defined]
    first, last = events_of(late.text)  # type: ignore[attr-defined]
    assert first["type"] == "transcript.text.delta"
    assert last["error"]["code"] == "AudioError" and last["error"]["reason"] == "undecodable"


def test_metrics_state_events_and_models(fake: tuple[FakeHost, TestClient]) -> None:
    host, client = fake
    post(client)
    post(client, model="nope")
    families = {
        f.name: f
        for f in text_string_to_metric_families(client.get("/metrics").text)
    }
    requests = {
        (s.labels["status"], s.labels["code"]): s.value
        for s in families["asrlab_requests"].samples
        if s.name == "asrlab_requests_total"
    }
    assert requests == {("200", "ok"): 1.0, ("400", "model_not_found"): 1.0}
    state = {s.labels["state"]: s.value for s in families["asrlab_lease_state"].samples}
    assert state["GPU_USAGE_HIGH"] == 1.0 and state["NORMAL"] == 0.0
    assert families["asrlab_leases_live"].samples[0].value == 1.0
    assert families["asrlab_worker_restarts"].samples[0].value == 2.0
    assert "asrlab_rtf" in families and "asrlab_attempts_per_window" in families

    lab = client.get("/v1/lab/state").json()
    assert (lab["remedy"], lab["policy"], lab["model"]) == ("recommended", "hard_kill", "tiny.en")
    assert lab["service"]["leases"][0]["holder"] == "job-a"
    assert [j["http_status"] for j in lab["jobs"]] == [200]  # jobs that ran: not the refusal
    assert lab["counters"]["by_status"] == {"200": 1, "400": 1}
    assert client.get("/v1/lab/events?since=1").json() == {
        "events": host.events(1), "next": 3,
    }  # fmt: skip
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids == ["tiny.en", "whisper-1"]


def test_status_page_shows_the_lease_and_the_jobs(fake: tuple[FakeHost, TestClient]) -> None:
    client = fake[1]
    client.post(
        "/v1/audio/transcriptions",
        files={"file": ("a.wav", b"x")},
        data={"model": "tiny.en"},
        headers={JOB_ID_HEADER: "job-shown"},
    )
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<meta http-equiv='refresh' content='1'>" in html and "<script" not in html
    assert "GPU_USAGE_HIGH" in html and "OVERDUE" in html and "job-a" in html
    assert "job-shown" in html and "result delivered" in html


def test_after_sigterm_new_requests_are_503_shutting_down() -> None:
    from asrlab.endpoint.answer import Drain

    host, drain = FakeHost(), Drain(grace_s=60)
    host.up.set()
    with TestClient(create_app(host, drain=drain)) as client:
        drain.begin()
        response = post(client)
        health = client.get("/health")
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "shutting_down"  # type: ignore[attr-defined]
    assert response.headers["Retry-After"] == "5"  # type: ignore[attr-defined]
    assert health.status_code == 503


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": b"", "headers": headers, "server": ("test", 80),
        "client": ("client", 1),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("remedy_name", "action"),
    [("streaming", "cancelled"), ("cooperative", "cancelled"), ("incident", "ignored")],
)
def test_a_client_that_leaves_is_handled_as_its_policy_says(remedy_name: str, action: str) -> None:
    """A real disconnect (``http.disconnect`` from ``receive``, as uvicorn sends it) while the
    job runs: hard_kill and cooperative servers cancel the job, the incident's ignores it;
    either way the job is recorded (499, the mark, the action) and settled."""
    import anyio

    entered, release = threading.Event(), threading.Event()

    def blocked(job_id: str, data: bytes, on_segment: OnSegment | None) -> JobRecord:
        entered.set()
        release.wait(10)
        return ok(job_id, data)

    host = FakeHost(blocked, remedy_name)
    host.up.set()
    app = create_app(host)
    body = (
        b'--b\r\nContent-Disposition: form-data; name="model"\r\n\r\ntiny.en\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF\r\n'
        b"--b--\r\n"
    )
    headers = [
        (b"content-type", b"multipart/form-data; boundary=b"),
        (JOB_ID_HEADER.lower().encode(), b"job-left"),
        (b"content-length", str(len(body)).encode()),
    ]
    sent: list[dict[str, Any]] = []

    async def scenario() -> None:
        left = anyio.Event()
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async with anyio.create_task_group() as tg:
            tg.start_soon(app, _scope("POST", "/v1/audio/transcriptions", headers), receive, send)
            assert await anyio.to_thread.run_sync(entered.wait, 10)
            left.set()
            with anyio.fail_after(5):
                while not (host.cancelled or action == "ignored"):
                    await anyio.sleep(0.01)
            await anyio.sleep(0.05)
            release.set()

    anyio.run(scenario)
    cancelled = [("job-left", "client disconnected")] if action == "cancelled" else []
    assert host.cancelled == cancelled
    assert host.settled == ["job-left"]
    assert sent[0]["status"] == 499
    ((record, code),) = app.state.lab.book.recent
    assert (record.http_status, record.disconnect_action, code) == (499, action, "client_gone")
    assert f"client disconnected: {action}" in [event for event, _ in record.timeline]
