"""The Starlette app of `asrlab serve`: OpenAI's ``POST /v1/audio/transcriptions`` and
``GET /v1/models`` in front of the lab's node, and what the lab adds: ``GET /health``,
``GET /metrics``, ``GET /`` (the status page), ``GET /v1/lab/state`` and ``GET /v1/lab/events``.

The node's blocking `Node.run` never runs on the event loop: each job goes to a worker thread
(`asrlab.endpoint.answer`), at most ``workers + queue`` at a time, and the loop keeps answering
``/health`` and refusing what it cannot take (429) while decodes run. The service loads in a
thread of its own (`asrlab.endpoint.host.ServiceHost`), so the server answers from its first
second: ``/health`` and every job say 503 ``not_ready`` until the workers are up.

What each answer is, status and body, is `asrlab.endpoint.wire`'s. No BaseHTTPMiddleware: it
would hide a client's disconnect from the job's watcher.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive

from asrlab.endpoint import status_page, wire
from asrlab.endpoint.answer import JOB_ID_HEADER, SHUTDOWN_REASON, Drain, Job, JobAnswer, Lab
from asrlab.endpoint.book import Book, Flight
from asrlab.endpoint.host import ALIAS, ServiceHost, Serving
from asrlab.endpoint.metrics import CONTENT_TYPE, Metrics
from asrlab.endpoint.state import LabState

__all__ = [
    "ALIAS",
    "JOB_ID_HEADER",
    "AppConfig",
    "Drain",
    "ServiceHost",
    "Serving",
    "create_app",
]


@dataclass(frozen=True)
class AppConfig:
    """The app's own limits. ``workers + queue`` jobs may be in flight; one more is told 429."""

    max_upload_mb: float = 25.0
    workers: int = 1
    queue: int = 8

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_inflight(self) -> int:
        return self.workers + self.queue


class BodyTooLarge(Exception):
    """The request body passed ``AppConfig.max_upload_mb`` while it was read."""


def _counted(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises `BodyTooLarge` once more than ``limit`` body bytes have come (a
    chunked upload has no Content-Length to check beforehand)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
        return message

    return wrapped


def lab_state(lab: Lab) -> LabState:
    """The server as `LabState` (``/v1/lab/state``, the status page)."""
    host = lab.host
    service = host.view()
    holders = {lease.holder for lease in service.leases}
    return LabState(
        remedy=host.remedy.name,
        policy=str(host.remedy.policy),
        model=host.model,
        ready=host.ready(),
        shutting_down=lab.drain.begun.is_set(),
        service=service,
        inflight=lab.book.inflight_views(holders),
        jobs=lab.book.job_views(),
        counters=lab.book.counters(),
    )


def create_app(
    host: Serving, config: AppConfig | None = None, *, drain: Drain | None = None
) -> Starlette:
    """The app around ``host``, which it starts at startup and closes at shutdown. ``drain``:
    the SIGTERM grace period the server begins (`asrlab.endpoint.server`)."""
    config = config or AppConfig()
    book = Book()
    lab = Lab(
        host=host,
        book=book,
        metrics=Metrics(host.view, lambda: len(book.inflight)),
        drain=drain or Drain(),
        limiter=anyio.CapacityLimiter(config.max_inflight),
        retry_s=wire.retry_after(host.acquire_timeout_ms),
    )

    def cancel_rest() -> None:  # the grace period is over (a timer thread)
        for job_id in book.inflight_ids():
            lab.drain.cancelled.add(job_id)
            host.cancel(job_id, SHUTDOWN_REASON)

    lab.drain.bind(cancel_rest)

    async def health(request: Request) -> Response:
        if lab.drain.begun.is_set():
            body = {"status": "shutting_down"}
            return JSONResponse(body, status_code=503, headers={"Retry-After": str(lab.retry_s)})
        if host.ready():
            return JSONResponse({"status": "ok"})
        failed = host.failure()
        body = {"status": "failed", "error": failed} if failed else {"status": "loading"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(lab.retry_s)})

    async def transcriptions(request: Request) -> Response:
        job_id = request.headers.get(JOB_ID_HEADER) or f"req-{uuid.uuid4().hex[:12]}"
        flight = Flight(job_id, time.monotonic())
        if lab.drain.begun.is_set():
            return lab.reply(wire.shutting_down(lab.retry_s), flight)
        if not host.ready():
            return lab.reply(wire.not_ready(lab.retry_s), flight)
        if len(book.inflight) >= config.max_inflight:
            return lab.reply(wire.queue_full(config.max_inflight, lab.retry_s), flight)
        if job_id in book.inflight:
            why = f"job {job_id!r} is in flight already"
            return lab.reply(wire.WireError(409, "duplicate_job_id", why, JOB_ID_HEADER), flight)
        book.open(flight)  # counted from here: a job uploading holds its place
        try:
            job = await _read(request, flight)
        except wire.RequestRejected as rejected:
            book.close(flight)
            return lab.reply(rejected.error, flight)
        except ClientDisconnect:
            book.close(flight)
            book.client_gone += 1
            lab.count(wire.CLIENT_GONE, "client_gone", flight, None)
            return Response(status_code=wire.CLIENT_GONE)
        return JobAnswer(lab, job)  # it closes the flight once answered

    async def _read(request: Request, flight: Flight) -> Job:
        """The request's form, checked; raises `wire.RequestRejected`."""
        too_large = wire.RequestRejected(wire.upload_too_large(config.max_upload_mb))
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_upload_bytes:
            raise too_large
        counted = Request(request.scope, _counted(request.receive, config.max_upload_bytes))
        try:
            form = await counted.form(max_files=1, max_fields=32)
        except BodyTooLarge:
            raise too_large from None
        except HTTPException as e:  # not multipart, or a malformed body
            raise wire.RequestRejected(wire.WireError(400, "bad_form", str(e.detail))) from e
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                why = "no file field: send the audio as multipart field 'file'"
                raise wire.RequestRejected(wire.WireError(400, "missing_file", why, "file"))
            data = await upload.read()
            fields = {
                k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form if k != "file"
            }
        finally:
            await form.close()  # the upload's spooled temporary file
        req = wire.parse_fields(fields, host.served_models)
        upload_s = time.monotonic() - flight.arrived
        return Job(flight, data, req, wire.decode_for(req, host.remedy.decode), upload_s)

    async def models(request: Request) -> Response:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "asrlab"}
            for name in host.served_models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def state(request: Request) -> Response:
        return JSONResponse(asdict(await anyio.to_thread.run_sync(lab_state, lab)))

    async def page(request: Request) -> Response:
        return HTMLResponse(status_page.render(await anyio.to_thread.run_sync(lab_state, lab)))

    async def metrics(request: Request) -> Response:
        text = await anyio.to_thread.run_sync(lab.metrics.render)
        return Response(text, media_type=CONTENT_TYPE)

    async def events(request: Request) -> Response:
        since_text = request.query_params.get("since", "0")
        if not since_text.isdigit():
            w = wire.WireError(422, "invalid_value", f"since={since_text!r}: a whole number")
            return JSONResponse(w.body(), status_code=w.status)
        since = int(since_text)
        found = await anyio.to_thread.run_sync(host.events, since)
        return JSONResponse({"events": found, "next": since + len(found)})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        host.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(host.close)

    routes = [
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/lab/state", state, methods=["GET"]),
        Route("/v1/lab/events", events, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/", page, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.lab = lab  # for a caller in this process (a test, a benchmark): the book, the drain
    return app
