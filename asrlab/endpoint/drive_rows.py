"""What one request of `asrlab drive` got, and the job row made of it.

The driver (`asrlab.endpoint.driver`) sends each planned job once and keeps what came back as an
`Answer`: the HTTP status and body, or why no answer came. `row_of` turns an answer into the job's
`JobRow`, in the columns `asrlab.workload.real` writes, so attribution, the scoreboard and the
notebooks read a drive's table as they read a real workload's. Where the server is `asrlab
serve`, its own row of the job (verbose_json's ``asrlab.row``, an error body's
``error.asrlab``) carries the node's stages; the client's plan and timings are laid over it. Any
other endpoint (a peer) gives a row with what its answer says.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np

from asrlab import errors
from asrlab.audio.samples import SAMPLE_RATE_HZ
from asrlab.service.rows import JobRow
from asrlab.workload.attribution import LEASE_REFUSAL
from asrlab.workload.sources import JobAudio, with_plan
from asrlab.workload.traffic import PlannedJob

# The lab's error classes by name: an ``error.code`` among them is a row's ``error_type`` as is.
LAB_ERRORS: Final = frozenset(
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, errors.AsrlabError)
)
CONNECTION_ERROR: Final = "ConnectionError"  # no HTTP answer: the connection failed or was cut
QUEUE_FULL: Final = "QueueFull"  # 429: the server took no more requests (attribution refused_other)
CLIENT_TIMEOUT: Final = "ClientTimeout"  # no HTTP answer within the client's own timeout
NOT_SENT: Final = "not_sent"  # a row's status: the drive's time ran out before the job was sent
_ERROR_TEXT_CHARS = 500  # a non-JSON error body is kept as the client text, this much of it


@dataclass(frozen=True)
class Answer:
    """What one request got.

    Attributes:
        job_id: the job it answers (the id sent; the server's echo was checked against it).
        started_s, finished_s: seconds after the drive's start the request was sent and its
            answer (or failure) came; None: never sent.
        http_status: the status; None when no HTTP answer came.
        body: the JSON body, if the answer was JSON.
        text: the body as text when it was not JSON (an error page), else "".
        failure: `CONNECTION_ERROR` or `CLIENT_TIMEOUT` when no HTTP answer came, else None.
        detail: what the client library said of that failure.
    """

    job_id: str
    started_s: float | None
    finished_s: float | None
    http_status: int | None = None
    body: Any = None
    text: str = ""
    failure: str | None = None
    detail: str = ""


def wav_bytes(samples: np.ndarray, rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    """``samples`` (float in [-1, 1]: mono, or frames x channels) as a WAV file of signed 16-bit
    PCM at ``rate_hz``: what a client uploads."""
    frames = np.asarray(samples, dtype=np.float64)
    frames = frames.reshape(len(frames), -1)
    pcm = np.round(np.clip(frames, -1.0, 1.0) * 32767.0)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate_hz)
        out.writeframes(pcm.astype("<i2").tobytes())
    return buffer.getvalue()


def server_row(body: Any) -> JobRow | None:
    """The server's own row of the job, where the server is `asrlab serve`: verbose_json's
    ``asrlab.row`` or an error body's ``error.asrlab``; None from any other server."""
    if not isinstance(body, Mapping):
        return None
    lab = body.get("asrlab")
    flat = lab.get("row") if isinstance(lab, Mapping) else None
    error = body.get("error")
    if flat is None and isinstance(error, Mapping):
        flat = error.get("asrlab")
    return JobRow.from_flat(flat) if isinstance(flat, Mapping) else None


def error_message(answer: Answer) -> str:
    """The text the client was shown: the error body's ``message``, else the body's text."""
    body = answer.body
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        detail = body.get("detail")  # FastAPI's HTTPException body (the peer)
        if detail is not None:
            return error_message(replace(answer, body=detail))
    return (answer.text or (repr(body) if body is not None else ""))[:_ERROR_TEXT_CHARS]


def error_type_of(status: int, code: Any, message: str) -> str:
    """A failed answer's ``error_type``: the server's ``error.code`` when it names a lab error
    class (`asrlab serve`), else by status, as the incident's clients told them apart: 503 whose
    text begins "GPU lease" a lease refusal, 504 an ASR timeout, 400 bad audio, 429 a full queue
    (`QUEUE_FULL`: a refusal for capacity, as any rate limit), any other ``HTTP<status>``."""
    if isinstance(code, str) and code in LAB_ERRORS:
        return code
    if status == 503 and message.startswith(LEASE_REFUSAL):
        return "LeaseRejected"
    return {504: "AsrTimeout", 400: "AudioError", 429: QUEUE_FULL}.get(status, f"HTTP{status}")


def row_of(job: PlannedJob, audio: JobAudio, answer: Answer, label: str) -> JobRow:
    """The job's row: the server's row where it sent one (else a row of ``label`` as remedy),
    with the job's plan and audio, and what its client saw: when it sent the job
    (``started_s``, ``client_wait_s``: arrival -> sent, waiting for a free connection), the
    latency it observed (``latency_s``: arrival -> answer), the status, text and error."""
    server = server_row(answer.body)
    row = server or JobRow(job_id=job.job_id, remedy=label, status="failed")
    sent, done = answer.started_s, answer.finished_s
    row = replace(
        with_plan(row, job, audio),
        audio_s=len(audio.samples) / SAMPLE_RATE_HZ,
        started_s=sent,
        client_wait_s=None if sent is None else max(0.0, sent - job.arrival_s),
        latency_s=None if done is None else max(0.0, done - job.arrival_s),
        http_status=answer.http_status,
    )
    if server is None and sent is not None and done is not None:
        row = replace(row, total_s=done - sent)  # the round trip: all a peer's answer tells
    if answer.http_status == 200:
        body = answer.body if isinstance(answer.body, Mapping) else {}
        text = body.get("text")
        language = body.get("language") or row.detected_language
        return replace(
            row,
            status="ok",
            text=text if isinstance(text, str) else row.text,
            detected_language=language or None,
            client_error=None,
            error_type=None,
        )
    if answer.http_status is not None:
        message = error_message(answer)
        error = answer.body.get("error") if isinstance(answer.body, Mapping) else None
        code = error.get("code") if isinstance(error, Mapping) else None
        kind = error_type_of(answer.http_status, code, message)
        return replace(row, status="failed", client_error=message, error_type=kind, text=None)
    if sent is None:
        return replace(row, status=NOT_SENT, client_error=answer.detail, error_type=None)
    return replace(row, status="failed", client_error=answer.detail, error_type=answer.failure)
