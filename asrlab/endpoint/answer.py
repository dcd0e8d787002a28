"""One transcription job from a parsed request to the bytes its client receives, racing the
client's disconnect.

`JobAnswer` is an ASGI response: Starlette calls it with the connection's ``receive`` and
``send`` once the form is read, so one coroutine owns the job from start to answer. The job runs
in a thread (`Node.run` blocks) while a watcher awaits ``receive()``: with the body consumed,
uvicorn returns from it only when the client disconnects (no BaseHTTPMiddleware may wrap the
app: it hides the disconnect). Then the timeout policy's rule (`wire.on_disconnect`) says
whether the job is cancelled (its worker killed, its lease freed) or left to run on, as the
incident's server did. Whatever happened, the job's record is kept in the book and the node's
late result awaited in a thread (`Serving.settle`), so the timeline shows it.

``stream=true``: segments reach the loop from the job's thread as the worker decodes them, over a
bounded memory stream, and leave as server-sent events; a job that fails before its first
segment is answered as any failure is (status and error body).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.streams.memory import MemoryObjectSendStream
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from asrlab.decoding.options import DecodeConfig
from asrlab.decoding.trace import SegmentRecord
from asrlab.endpoint import formats, wire
from asrlab.endpoint.book import Book, Flight
from asrlab.endpoint.host import Serving
from asrlab.endpoint.metrics import Metrics
from asrlab.errors import JobCancelled
from asrlab.service.node import JobRecord
from asrlab.service.rows import Mark

JOB_ID_HEADER = "X-Asrlab-Job-Id"
MAX_STREAMED_SEGMENTS = 4096  # the stream's buffer; a 30 s window yields a few dozen at most
SHUTDOWN_REASON = "the server is shutting down"
Streamed = SegmentRecord | JobRecord  # what the job's thread hands the loop: segments, then the end


class Drain:
    """SIGTERM's grace period: from `begin`, new requests are refused (503 ``shutting_down``);
    ``grace_s`` later every job still in flight is cancelled and answered 503 the same."""

    def __init__(self, grace_s: float = 30.0) -> None:
        self.grace_s = grace_s
        self.begun = threading.Event()
        self.cancelled: set[str] = set()  # job ids cut short by the end of the grace period
        self._cancel_rest: Callable[[], None] = lambda: None
        self._lock = threading.Lock()

    def bind(self, cancel_rest: Callable[[], None]) -> None:
        self._cancel_rest = cancel_rest

    def begin(self) -> None:
        """Start draining (idempotent; safe from a signal handler: it only starts a timer)."""
        with self._lock:
            if self.begun.is_set():
                return
            self.begun.set()
        timer = threading.Timer(self.grace_s, self._cancel_rest)
        timer.daemon = True
        timer.start()


@dataclass
class Lab:
    """What every answer needs of the app: the service, the book, the metrics, the drain."""

    host: Serving
    book: Book
    metrics: Metrics
    drain: Drain
    limiter: anyio.CapacityLimiter
    retry_s: int
    settling: set[threading.Thread] = field(default_factory=set)

    def reply(self, w: wire.WireError, flight: Flight, record: JobRecord | None = None) -> Response:
        """The error answer ``w``, counted; ``record``: the failed job's (its row goes along)."""
        headers = {**w.headers(), JOB_ID_HEADER: flight.job_id}
        if record is not None:
            record.http_status = w.status
        self.count(w.status, w.code, flight, record)
        return JSONResponse(w.body(None if record is None else record.row()), w.status, headers)

    def count(self, status: int, code: str, flight: Flight, record: JobRecord | None) -> None:
        self.book.answered(status, record, code)
        self.metrics.observe(status, code, time.monotonic() - flight.arrived, record)

    def settle(self, record: JobRecord) -> None:
        """Await the job's late result and free the node's hold on it, off the loop."""

        def run() -> None:
            try:
                self.host.settle(record)
            finally:
                self.settling.discard(thread)

        thread = threading.Thread(target=run, name=f"settle-{record.job_id}", daemon=True)
        self.settling.add(thread)
        thread.start()


@dataclass
class Job:
    """A request that passed every check: what to decode, and how to answer."""

    flight: Flight
    data: bytes
    request: wire.TranscriptionRequest
    decode: DecodeConfig
    upload_s: float


class JobAnswer(Response):
    """The answer to ``job``, computed while it is sent (`__call__`)."""

    def __init__(self, lab: Lab, job: Job) -> None:
        super().__init__(status_code=200)
        self.lab, self.job = lab, job
        self.gone: float | None = None  # when the client disconnected (monotonic)
        self.action: wire.DisconnectAction | None = None
        self.over = False  # the job ended: a disconnect from here on (uvicorn reports one once
        # the response is complete) changes nothing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        job = self.job
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch, receive)
                if job.request.stream:
                    await self._stream(scope, receive, send)
                else:
                    record = await self._run(None)
                    await self._answer(record)(scope, receive, send)
                tg.cancel_scope.cancel()  # the watcher: the answer is sent
        finally:
            self.lab.book.close(job.flight)

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if self.over:
            return
        self.gone = time.monotonic()
        self.action = wire.on_disconnect(self.lab.host.remedy.policy)
        if self.action == wire.DisconnectAction.CANCELLED:
            self.lab.host.cancel(self.job.flight.job_id, "client disconnected")
            self.lab.book.cancelled_on_disconnect += 1
        self.lab.book.client_gone += 1

    async def _run(self, on_segment: Callable[[SegmentRecord], None] | None) -> JobRecord:
        job, host = self.job, self.lab.host
        job.flight.stage = "queued"

        def run() -> JobRecord:
            job.flight.stage = "running"
            return host.run(
                job.flight.job_id, job.data, decode=job.decode, on_segment=on_segment
            )

        return await anyio.to_thread.run_sync(run, limiter=self.lab.limiter)

    def _finish(self, record: JobRecord) -> wire.WireError | None:
        """Record the job's end; the error it is answered with (None: it succeeded)."""
        self.over = True
        job_id = self.job.flight.job_id
        if self.gone is not None and self.action is not None:
            record.mark(Mark.CLIENT_GONE, self.gone, str(self.action))
            record.timeline.sort(key=lambda event: event[1])
            record.disconnect_action = str(self.action)
        self.lab.settle(record)
        if record.status == "ok":
            return None
        if job_id in self.lab.drain.cancelled and isinstance(record.error, JobCancelled):
            return wire.shutting_down(self.lab.retry_s)
        return wire.error_of(record, retry_after_s=self.lab.retry_s)

    def _answer(self, record: JobRecord) -> Response:
        """The whole answer to a job that is over (not streamed)."""
        lab, flight = self.lab, self.job.flight
        error = self._finish(record)
        if self.gone is not None:  # no one is listening: counted, and sent for form's sake
            record.http_status = wire.CLIENT_GONE
            lab.count(wire.CLIENT_GONE, "client_gone", flight, record)
            return Response(status_code=wire.CLIENT_GONE)
        if error is not None:
            response = lab.reply(error, flight, record)
            response.headers["Server-Timing"] = formats.server_timing(record, self.job.upload_s)
            return response
        headers = {
            JOB_ID_HEADER: flight.job_id,
            "Server-Timing": formats.server_timing(record, self.job.upload_s),
        }
        record.http_status = 200
        lab.count(200, "ok", flight, record)
        media, body = formats.render(record, self.job.request.response_format)
        if isinstance(body, dict):
            return JSONResponse(body, headers=headers)
        return PlainTextResponse(body, media_type=media, headers=headers)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Server-sent events: one per segment as it comes, then the done (or error) event."""
        sender, segments = anyio.create_memory_object_stream[Streamed](MAX_STREAMED_SEGMENTS)
        flight = self.job.flight
        flight.stream = True

        def on_segment(segment: SegmentRecord) -> None:  # in the job's thread
            flight.segments += 1
            try:
                anyio.from_thread.run_sync(sender.send_nowait, segment)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # no one reads any more, or past the buffer: the done event has all

        async def job_task(out: MemoryObjectSendStream[Streamed]) -> None:
            async with out:
                await out.send(await self._run(on_segment))

        async with anyio.create_task_group() as tg, segments:
            tg.start_soon(job_task, sender)
            first = await segments.receive()
            if isinstance(first, JobRecord):
                if first.status != "ok":  # failed before its first segment: a plain answer
                    await self._answer(first)(scope, receive, send)
                    return
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", formats.EVENT_STREAM.encode()),
                (b"cache-control", b"no-cache"),
                (JOB_ID_HEADER.lower().encode(), flight.job_id.encode()),
                (b"server-timing", f"upload;dur={self.job.upload_s * 1000:.1f}".encode()),
            ]})  # fmt: skip
            pending: list[Streamed] = [first]
            while True:
                current = pending.pop() if pending else await segments.receive()
                if isinstance(current, SegmentRecord):
                    await self._event(send, formats.delta_event(current))
                    continue
                await self._event(send, self._last_event(current), more=False)
                return

    def _last_event(self, record: JobRecord) -> dict[str, object]:
        flight, lab = self.job.flight, self.lab
        error = self._finish(record)
        if self.gone is not None:
            record.http_status = wire.CLIENT_GONE
            lab.count(wire.CLIENT_GONE, "client_gone", flight, record)
        elif error is not None:  # the client has had its 200 and some segments
            record.http_status = 200
            lab.count(200, error.code, flight, record)
            return error.body(record.row())
        else:
            record.http_status = 200
            lab.count(200, "ok", flight, record)
        return formats.done_event(record)

    @staticmethod
    async def _event(send: Send, event: dict[str, object], *, more: bool = True) -> None:
        await send({"type": "http.response.body", "body": formats.sse(event), "more_body": more})
