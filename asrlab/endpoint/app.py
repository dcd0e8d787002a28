"""The Starlette app of `asrlab serve`: OpenAI's ``POST /v1/audio/transcriptions`` in front of the
lab's node, and ``GET /health``.

The node's blocking `Node.run` never runs on the event loop: each job goes to a worker thread
(`anyio.to_thread`), at most ``workers + queue`` at a time, and the loop keeps answering
``/health`` and refusing what it cannot take (429) while decodes run. The service (workers,
arbiter, VAD) loads in a thread of its own (`ServiceHost`), so the server answers from its first
second: ``/health`` and every job say 503 ``not_ready`` until the workers are up.

What each answer is, status and body, is `asrlab.endpoint.wire`'s; this module only moves bytes.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive

from asrlab.endpoint import wire
from asrlab.service.settings import ServiceSettings

if TYPE_CHECKING:
    from asrlab.service.node import JobRecord, Node

JOB_ID_HEADER = "X-Asrlab-Job-Id"
ALIAS = "whisper-1"  # the name OpenAI's examples send; it means the served model


class Serving(Protocol):
    """What the app needs of the service behind it (`ServiceHost`; a fake in the fast tests)."""

    served_models: tuple[str, ...]
    acquire_timeout_ms: float

    def start(self) -> None: ...  # returns at once; the service loads meanwhile
    def ready(self) -> bool: ...
    def failure(self) -> str | None: ...  # why the service could not start, if it could not
    def run(self, job_id: str, data: bytes) -> JobRecord: ...  # blocking
    def close(self) -> None: ...


class ServiceHost:
    """The lab's service (`asrlab.service.build.service`) held open in a thread of its own."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.served_models: tuple[str, ...] = (settings.model, ALIAS)
        self.acquire_timeout_ms = settings.acquire_timeout_ms
        self._node: Node | None = None
        self._error: str | None = None
        self._up = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="asrlab-service", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _hold(self) -> None:
        from asrlab.service.build import service

        try:
            with service(self.settings) as node:
                self._node = node
                self._up.set()
                self._stop.wait()
        except Exception as e:  # the server stays up to say why on /health
            self._error = f"{type(e).__name__}: {e}"
        finally:
            self._node = None

    def ready(self) -> bool:
        return self._up.is_set() and self._node is not None

    def failure(self) -> str | None:
        return self._error

    def run(self, job_id: str, data: bytes) -> JobRecord:
        node = self._node
        if node is None:
            raise RuntimeError("the service is not running")
        return node.run(job_id, data)

    def close(self, timeout_s: float = 60.0) -> None:
        """Stop the service: its workers are ended and its arbiter closed, in the holding thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)


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


@dataclass
class _State:
    inflight: int = 0


def _error(w: wire.WireError, job_id: str | None = None, row: Any = None) -> JSONResponse:
    headers = w.headers()
    if job_id is not None:
        headers[JOB_ID_HEADER] = job_id
    return JSONResponse(w.body(row), status_code=w.status, headers=headers)


def create_app(host: Serving, config: AppConfig | None = None) -> Starlette:
    """The app around ``host``, which it starts at startup and closes at shutdown."""
    config = config or AppConfig()
    limiter = anyio.CapacityLimiter(config.max_inflight)
    state = _State()
    retry_s = wire.retry_after(host.acquire_timeout_ms)

    async def health(request: Request) -> Response:
        if host.ready():
            return JSONResponse({"status": "ok"})
        failed = host.failure()
        body = {"status": "failed", "error": failed} if failed else {"status": "loading"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(retry_s)})

    async def transcriptions(request: Request) -> Response:
        job_id = request.headers.get(JOB_ID_HEADER) or f"req-{uuid.uuid4().hex[:12]}"
        if not host.ready():
            return _error(wire.not_ready(retry_s), job_id)
        if state.inflight >= config.max_inflight:
            return _error(wire.queue_full(config.max_inflight, retry_s), job_id)
        state.inflight += 1  # counted from here: a job uploading holds its place
        try:
            return await _transcribe(request, job_id)
        finally:
            state.inflight -= 1

    async def _transcribe(request: Request, job_id: str) -> Response:
        too_large = wire.upload_too_large(config.max_upload_mb)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_upload_bytes:
            return _error(too_large, job_id)
        started = time.monotonic()
        counted = Request(request.scope, _counted(request.receive, config.max_upload_bytes))
        try:
            form = await counted.form(max_files=1, max_fields=32)
        except BodyTooLarge:
            return _error(too_large, job_id)
        except HTTPException as e:  # not multipart, or a malformed body
            return _error(wire.WireError(400, "bad_form", str(e.detail)), job_id)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return _error(wire.WireError(400, "missing_file", "no file field", "file"), job_id)
            data = await upload.read()
            fields = {
                k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form if k != "file"
            }
        finally:
            await form.close()  # the upload's spooled temporary file
        upload_s = time.monotonic() - started
        try:
            req = wire.parse_fields(fields, host.served_models)
            _refuse_unapplied(req)
        except wire.RequestRejected as rejected:
            return _error(rejected.error, job_id)
        record = await anyio.to_thread.run_sync(host.run, job_id, data, limiter=limiter)
        headers = {JOB_ID_HEADER: job_id, "Server-Timing": wire.server_timing(record, upload_s)}
        if record.status != "ok":
            w = wire.error_of(record, retry_after_s=retry_s)
            return JSONResponse(
                w.body(record.row()), status_code=w.status, headers={**headers, **w.headers()}
            )
        media, body = wire.render(record, req.response_format)
        if isinstance(body, dict):
            return JSONResponse(body, headers=headers)
        return PlainTextResponse(body, media_type=media, headers=headers)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        host.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(host.close)

    routes = [
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _refuse_unapplied(req: wire.TranscriptionRequest) -> None:
    """Fields the node cannot apply yet (it decodes with its remedy's options): refused, never
    silently ignored."""
    asked = {
        "language": req.language,
        "prompt": req.prompt,
        "temperature": req.temperature,
        "stream": req.stream or None,
    }
    for name, value in asked.items():
        if value is not None:
            raise wire.RequestRejected(
                wire.WireError(
                    400, "unsupported_value",
                    f"{name}={value!r}: this server decodes with its remedy's options only",
                    name,
                )
            )  # fmt: skip
