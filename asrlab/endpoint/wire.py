"""What `asrlab serve` says on the wire, as records: the request it accepts, and the status code
and OpenAI-style error body each failure of the lab becomes (a success's formats are
`asrlab.endpoint.formats`').

Pure: no Starlette, no decoder. The app (`asrlab.endpoint.app`) reads a multipart form into
`TranscriptionRequest` with `parse_fields`, hands a failed job's `JobRecord` to `error_of`, and
sends what it returns. The status of every failure is one table,
`STATUS`, keyed by the lab's error class (`asrlab.errors`), so the server, its tests and a driver
reading a row's ``error_type`` agree on it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from asrlab.decoding.options import LANGUAGE_CODES, DecodeConfig
from asrlab.errors import AsrlabError, AudioError, ConfigError
from asrlab.service.policy import Policy
from asrlab.service.rows import Mark

if TYPE_CHECKING:
    from asrlab.service.node import JobRecord
    from asrlab.service.rows import JobRow

RESPONSE_FORMATS: Final = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES: Final = ("segment",)  # the lab's decoder keeps no word timestamps
# nginx's "client closed request": never sent (no one is listening), only counted and recorded.
CLIENT_GONE: Final = 499


class ErrorType(enum.StrEnum):
    """OpenAI's ``error.type``: by status class, as its clients map them to exceptions."""

    INVALID_REQUEST = "invalid_request_error"
    RATE_LIMIT = "rate_limit_error"
    SERVER = "server_error"


@dataclass(frozen=True)
class WireError:
    """One failure as the client receives it.

    Attributes:
        status: the HTTP status.
        code: OpenAI's ``error.code``: the lab's error class (``LeaseRejected``) or a request
            check's name (``upload_too_large``).
        message: ``error.message``; for a failed job exactly the node's client text.
        param: the form field at fault (``file``, ``model``), if one is.
        retry_after_s: whole seconds for a ``Retry-After`` header (None: no header).
        reason: the `AudioError` reason (``empty``, ``undecodable``...), if the audio was at fault.
    """

    status: int
    code: str
    message: str
    param: str | None = None
    retry_after_s: int | None = None
    reason: str | None = None

    @property
    def type(self) -> ErrorType:
        if self.status == 429:
            return ErrorType.RATE_LIMIT
        return ErrorType.SERVER if self.status >= 500 else ErrorType.INVALID_REQUEST

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after_s is None else {"Retry-After": str(self.retry_after_s)}

    def body(self, row: JobRow | None = None) -> dict[str, Any]:
        """``{"error": {message, type, param, code[, reason][, asrlab]}}``; ``asrlab`` is the
        failed job's row, when a job ran."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": str(self.type),
            "param": self.param,
            "code": self.code,
        }
        if self.reason is not None:
            error["reason"] = self.reason
        if row is not None:
            error["asrlab"] = asdict(row)
        return {"error": error}


class RequestRejected(Exception):
    """A request refused before any job ran; ``error`` is what the client receives."""

    def __init__(self, error: WireError) -> None:
        self.error = error
        super().__init__(f"{error.status} {error.code}: {error.message}")


@dataclass(frozen=True)
class Cause:
    """How one error class of the lab is answered: its status, and whether a retry is invited."""

    status: int
    param: str | None = None
    retry: bool = False


# The lab's error class (by name, as a row's ``error_type`` holds it) -> its answer. A class not
# named here (WorkerCrashed, JobFailed, ModelNotFound...) is the server's fault: 500.
STATUS: Final[Mapping[str, Cause]] = {
    "LeaseRejected": Cause(503, retry=True),  # the incident's refusal; the GPU frees in seconds
    "AsrTimeout": Cause(504),
    "AudioError": Cause(400, param="file"),
    "ConfigError": Cause(400),
}
SERVER_FAULT: Final = Cause(500)


def failure(
    error_type: str, message: str, *, reason: str | None = None, retry_after_s: int = 1
) -> WireError:
    """The answer to a job that failed with ``error_type`` (a class name) and client text
    ``message``, sent as it is. ``retry_after_s`` goes out where `STATUS` invites a retry."""
    cause = STATUS.get(error_type, SERVER_FAULT)
    return WireError(
        status=cause.status,
        code=error_type,
        message=message,
        param=cause.param,
        retry_after_s=retry_after_s if cause.retry else None,
        reason=reason,
    )


def error_for(e: AsrlabError, *, retry_after_s: int = 1) -> WireError:
    """The answer to the lab error ``e`` (its class, its exact text, an `AudioError`'s reason)."""
    reason = e.reason if isinstance(e, AudioError) else None
    wire = failure(type(e).__name__, str(e), reason=reason, retry_after_s=retry_after_s)
    if isinstance(e, ConfigError):
        return WireError(wire.status, wire.code, wire.message, param=e.field)
    return wire


def error_of(record: JobRecord, *, retry_after_s: int = 1) -> WireError:
    """The answer to a failed job: from the exception when the record keeps it (``error``),
    else from the class name and client text it does keep."""
    kept = getattr(record, "error", None)
    if isinstance(kept, AsrlabError):
        return error_for(kept, retry_after_s=retry_after_s)
    error_type = record.details.get(Mark.FAILED, "AsrlabError")
    return failure(error_type, record.client_error or "", retry_after_s=retry_after_s)


def retry_after(acquire_timeout_ms: float) -> int:
    """Whole seconds a refused client should wait: one acquire timeout, at least 1 s."""
    return max(1, math.ceil(acquire_timeout_ms / 1000))


# Refusals of the request itself, before a job runs.
def upload_too_large(limit_mb: float) -> WireError:
    return WireError(413, "upload_too_large", f"the upload is over {limit_mb:g} MB", "file")


def queue_full(limit: int, retry_after_s: int) -> WireError:
    return WireError(
        429, "queue_full", f"{limit} requests are in flight, the most this server takes",
        retry_after_s=retry_after_s,
    )  # fmt: skip


def not_ready(retry_after_s: int) -> WireError:
    return WireError(503, "not_ready", "the model is loading", retry_after_s=retry_after_s)


def shutting_down(retry_after_s: int) -> WireError:
    """A request that came after SIGTERM, or was still running when the grace period ended."""
    why = "the server is shutting down"
    return WireError(503, "shutting_down", why, retry_after_s=retry_after_s)


class DisconnectAction(enum.StrEnum):
    """What the server did about a client that went away while its job ran."""

    CANCELLED = "cancelled"  # the job was cancelled: its worker killed, its lease freed
    IGNORED = "ignored"  # the job ran on to its end, its result discarded


def on_disconnect(policy: Policy) -> DisconnectAction:
    """The rule per timeout policy: a server that stops a job at its deadline (``hard_kill``,
    ``cooperative``) also stops it when no one waits for it any more. The incident's server
    (``legacy_thread``) never looked, nor does one with no deadline (``none``): they decode on,
    holding the lease, as production did; cancelling them here would make the incident look
    fixed."""
    if Policy(policy) in (Policy.HARD_KILL, Policy.COOPERATIVE):
        return DisconnectAction.CANCELLED
    return DisconnectAction.IGNORED


@dataclass(frozen=True)
class TranscriptionRequest:
    """The form of ``POST /v1/audio/transcriptions`` (the file aside), checked.

    ``temperature`` None: the remedy's own ladder. ``stream``: server-sent events.
    """

    model: str
    response_format: str = "json"
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    granularities: tuple[str, ...] = ("segment",)
    stream: bool = False


def _unsupported(param: str, value: object, allowed: Sequence[str]) -> RequestRejected:
    return RequestRejected(
        WireError(400, "unsupported_value", f"{param}={value!r}: one of {list(allowed)}", param)
    )


def parse_fields(
    fields: Mapping[str, str | Sequence[str]], served: Sequence[str]
) -> TranscriptionRequest:
    """The request of a form's text fields; raises `RequestRejected` (400 for a value the server
    does not serve, 422 for one of the wrong type). ``served``: the model names it answers to."""

    def one(name: str) -> str | None:
        value = fields.get(name)
        if value is None or isinstance(value, str):
            return value or None
        return value[-1] if value else None

    model = one("model")
    if model is None or model not in served:
        raise RequestRejected(
            WireError(400, "model_not_found", f"model {model!r}: served {list(served)}", "model")
        )
    response_format = one("response_format") or "json"
    if response_format not in RESPONSE_FORMATS:
        raise _unsupported("response_format", response_format, RESPONSE_FORMATS)
    raw = fields.get("timestamp_granularities[]", ())
    granularities = tuple([raw] if isinstance(raw, str) else raw) or ("segment",)
    for g in granularities:
        if g not in GRANULARITIES:
            raise _unsupported("timestamp_granularities[]", g, GRANULARITIES)
    language = one("language")
    if language is not None and language not in LANGUAGE_CODES:
        why = f"language={language!r}: not a Whisper language code (ISO-639-1, e.g. 'en')"
        raise RequestRejected(WireError(400, "unsupported_value", why, "language"))
    temperature = _temperature(one("temperature"))
    stream = (one("stream") or "false").lower()
    if stream not in ("true", "false"):
        raise RequestRejected(WireError(422, "invalid_value", f"stream={stream!r}", "stream"))
    return TranscriptionRequest(
        model=model,
        response_format=response_format,
        language=language,
        prompt=one("prompt"),
        temperature=temperature,
        granularities=granularities,
        stream=stream == "true",
    )


def _temperature(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        why = f"temperature={text!r}: a number in [0, 1]"
        raise RequestRejected(WireError(422, "invalid_value", why, "temperature"))
    return None if value == 0.0 else value  # 0: the remedy's ladder, as OpenAI's default is


def decode_for(req: TranscriptionRequest, base: DecodeConfig) -> DecodeConfig:
    """The remedy's decode options (``base``) with what the request asked for applied: its
    language (no detection), its prompt (the first window's ``initial_prompt``) and a temperature
    above 0 (that temperature alone: no fallback ladder). The guard and timeouts stay the
    remedy's."""
    changes: dict[str, Any] = {}
    if req.language is not None:
        changes["language"] = req.language
    if req.prompt is not None:
        changes["initial_prompt"] = req.prompt
    if req.temperature is not None:
        changes["temperature"] = (req.temperature,)
    return replace(base, **changes) if changes else base
