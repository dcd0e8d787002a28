"""What a caller of the worker manager holds: a job's handle, its metrics and its result.

`JobHandle` is returned by `WorkerManager.submit`; the caller waits on it (`result`) or streams
from it (`stream`). `JobMetrics` are the job's measurements (seconds; instants are
``time.monotonic()``); `JobResult` is what an answered job delivers.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from asrlab.decoding.options import DecodeConfig
from asrlab.errors import AsrlabError, AsrTimeout

_END = object()  # closes a job's event stream


@dataclass
class JobMetrics:
    """Per-job measurements (seconds; instants are ``time.monotonic()``)."""

    job_id: str
    policy: str
    mode: str
    timeout_s: float | None
    submitted: float
    worker_pid: int | None = None
    queue_wait_s: float | None = None  # submitted -> sent to a worker
    worker_start_s: float | None = None  # sent -> the worker began decoding
    first_segment_s: float | None = None  # submitted -> first segment received
    total_s: float | None = None  # submitted -> the caller was given a result or an error
    status: str = "pending"  # ok | partial | timeout | crashed | failed | cancelled
    timed_out: bool = False
    killed: bool = False
    respawn_s: float | None = None
    work_after_deadline_s: float = 0.0  # the worker kept decoding after the caller gave up
    late_result: bool = False  # the worker's result came after the caller had been answered
    guard_entered_s: float | None = None  # legacy guard entered (transcribe() had returned)
    guard_raised_s: float | None = None  # legacy guard: its TimeoutError was raised
    guard_left_s: float | None = None  # legacy guard: control left the `with` block
    error: str | None = None

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobResult:
    """A job's outcome as the caller receives it."""

    job_id: str
    segments: list[dict[str, Any]]
    trace: dict[str, Any]
    metrics: JobMetrics
    partial: bool = False  # a cooperative stop: the segments decoded before the deadline

    @property
    def text(self) -> str:
        return "".join(s["text"] for s in self.segments).strip()


@dataclass
class JobHandle:
    """What `WorkerManager.submit` returns: wait for the result, or stream the segments."""

    job_id: str
    samples: np.ndarray
    decode: DecodeConfig
    deadline: float | None
    metrics: JobMetrics
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _done: threading.Event = field(default_factory=threading.Event)
    _events: queue.Queue = field(default_factory=queue.Queue)
    _dispatched: bool = False
    _started_at: float = 0.0  # when the worker began decoding (monotonic)
    _cancel: str | None = None  # set by WorkerManager.cancel: why the job must stop
    late: JobResult | None = (
        None  # a result that came after the caller was answered (kept for study)
    )
    _outcome: JobResult | AsrlabError | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> JobResult:
        """Block until the job ends; raise its `AsrTimeout`, `WorkerCrashed` or `JobFailed`."""
        while not self._done.wait(self._wait_s()):
            self._expire_if_queued()
        assert self._outcome is not None
        if isinstance(self._outcome, AsrlabError):
            raise self._outcome
        return self._outcome

    def stream(self) -> Iterator[dict[str, Any]]:
        """Yield segments as the worker produces them (streaming mode), then end or raise."""
        while True:
            try:
                event = self._events.get(timeout=self._wait_s())
            except queue.Empty:
                self._expire_if_queued()
                continue
            if event is _END:
                break
            yield event
        self.result()  # raises the job's error, if any

    def _wait_s(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def _expire_if_queued(self) -> None:
        """A job still queued at its deadline fails now, not when a worker frees up."""
        now = time.monotonic()
        with self._lock:
            if self._dispatched or self.deadline is None or now < self.deadline:
                return
            self._dispatched = True  # no slot may start it any more
        self._finish(self._timeout(now, "queued"))

    def _claim(self) -> bool:
        with self._lock:
            if self._dispatched or self._done.is_set():
                return False
            self._dispatched = True
            return True

    def _timeout(self, now: float, where: str) -> AsrTimeout:
        m = self.metrics
        m.status, m.timed_out = "timeout", True
        return AsrTimeout(self.job_id, m.timeout_s or 0.0, now - m.submitted, m.policy, where)

    def _finish(self, outcome: JobResult | AsrlabError) -> bool:
        """Deliver the outcome once; False if the caller was already answered."""
        with self._lock:
            if self._done.is_set():
                return False
            self._outcome = outcome
            self.metrics.total_s = time.monotonic() - self.metrics.submitted
            if isinstance(outcome, AsrlabError):
                self.metrics.error = str(outcome)
            self._events.put(_END)
            self._done.set()
            return True
