"""What goes over the pipe between the manager and a worker process: frozen, picklable records.

The manager sends a `JobMessage` per job and `STOP` to end the worker. The worker answers with
(``t``: ``time.monotonic()`` instants, one clock for all processes on a Linux host):

- `Ready` once the model is loaded (not an answer to a job);
- `Started` when a job's decode begins;
- `SegmentMessage` per segment, in streaming mode;
- `Done` with the segments, the trace and, for the legacy guard, its timings; `Failed` when the
  decode raised.

Every answer carries its job id, so a result that arrives after its job was given up can be
recognised and dropped instead of being handed to the next job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from asrlab.decoding.trace import DecodeTrace, SegmentRecord
from asrlab.service.policy import Policy


class ResultMode(enum.StrEnum):
    """How a worker hands its segments back."""

    LIST = "list"  # all of them at the end, in `Done`
    STREAMING = "streaming"  # each as it is decoded (`SegmentMessage`), and all in `Done`


RESULT_MODES: tuple[str, ...] = tuple(m.value for m in ResultMode)


@dataclass(frozen=True)
class JobMessage:
    """One job for a worker.

    Attributes:
        job_id: the job; every answer about it carries it.
        samples: float32 mono 16 kHz audio (`asrlab.audio.samples`).
        decode_fields: the `DecodeConfig` as ``asdict`` (plain data across the pipe).
        deadline: the job's due instant (``time.monotonic()``), None without one.
        policy: the timeout policy.
        segments_timeout_s: the legacy guard's ``future.result(timeout=...)``.
        mode: how the segments come back.
    """

    job_id: str
    samples: Any
    decode_fields: dict[str, Any]
    deadline: float | None
    policy: Policy
    segments_timeout_s: float
    mode: ResultMode


@dataclass(frozen=True)
class Stop:
    """Tells a worker to exit once its current job (if any) is answered."""


STOP = Stop()


@dataclass(frozen=True)
class Ready:
    """The worker has loaded its model: its pid, the load's seconds, and the compute type
    CTranslate2 actually loaded (``"auto"`` resolved: ``int8_float32`` on a CPU, ...)."""

    pid: int
    load_s: float
    compute_type: str


@dataclass(frozen=True)
class Started:
    """The job's decode began at ``t``."""

    job_id: str
    t: float


@dataclass(frozen=True)
class SegmentMessage:
    """One segment of the job, sent as it was decoded (streaming mode)."""

    job_id: str
    segment: SegmentRecord
    t: float


@dataclass(frozen=True)
class GuardTimes:
    """The legacy guard's instants (monotonic): entered once ``transcribe()`` had returned, its
    ``TimeoutError`` raised (None if the segments came in time), control left the ``with``."""

    entered: float
    raised: float | None
    left: float


@dataclass(frozen=True)
class Done:
    """The job's decode ended (finished, or stopped cooperatively: ``trace.stopped_reason``)."""

    job_id: str
    segments: tuple[SegmentRecord, ...]
    trace: DecodeTrace
    guard: GuardTimes | None
    t: float


@dataclass(frozen=True)
class Failed:
    """The job's decode raised; ``error`` is ``"<ExceptionType>: <message>"``."""

    job_id: str
    error: str
    t: float


WorkerAnswer = Started | SegmentMessage | Done | Failed  # what a worker says about a job
