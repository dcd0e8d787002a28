"""What a caller of the worker manager holds: a job's handle, its metrics and its result.

`JobHandle` is returned by `WorkerManager.submit`; the caller waits on it (`result`) or streams
from it (`stream`), and the manager moves it along through its public methods (`claim`,
`started`, `segment`, `finish`, ...). `JobMetrics` are the job's measurements (seconds; instants
are ``time.monotonic()``); `JobResult` is what an answered job delivers.
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
from asrlab.decoding.trace import DecodeTrace, SegmentRecord
from asrlab.errors import AsrlabError, AsrTimeout, JobCancelled
from asrlab.service import policy
from asrlab.service.message import GuardTimes, ResultMode
from asrlab.service.policy import Answer, Cause, JobState, Policy, Where

_END = object()  # closes a job's event stream


@dataclass
class JobMetrics:
    """Per-job measurements (seconds; instants are ``time.monotonic()``)."""

    job_id: str
    policy: Policy
    mode: ResultMode
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
    """A job's outcome as the caller receives it: its segments and the worker's trace."""

    job_id: str
    segments: tuple[SegmentRecord, ...]
    trace: DecodeTrace
    metrics: JobMetrics

    @property
    def partial(self) -> bool:
        """A cooperative stop: the segments decoded before the deadline."""
        return self.trace.stopped_reason is not None

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()


@dataclass
class JobHandle:
    """What `WorkerManager.submit` returns: wait for the result, or stream the segments.

    ``backstop_s`` is the policy's (`asrlab.service.policy.JobState`); ``late`` a result that came
    after the caller was answered (kept for study).
    """

    job_id: str
    samples: np.ndarray
    decode: DecodeConfig
    deadline: float | None
    metrics: JobMetrics
    backstop_s: float = 0.0
    late: JobResult | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _done: threading.Event = field(default_factory=threading.Event)
    _events: queue.Queue[SegmentRecord | object] = field(default_factory=queue.Queue)
    _dispatched: bool = False
    _started_at: float = 0.0  # when the worker began decoding (monotonic)
    _cancel: str | None = None  # why the job must stop (`request_cancel`)
    _outcome: JobResult | AsrlabError | None = None

    # --- the caller's side ----------------------------------------------------------------
    @property
    def done(self) -> bool:
        """The caller has been answered (a result or an error)."""
        return self._done.is_set()

    @property
    def outcome(self) -> JobResult | AsrlabError | None:
        """What the caller was answered, None until then."""
        return self._outcome

    def result(self) -> JobResult:
        """Block until the job ends; raise its `AsrTimeout`, `WorkerCrashed` or `JobFailed`."""
        while not self._done.wait(self._wait_s()):
            self._expire_if_queued()
        assert self._outcome is not None
        if isinstance(self._outcome, AsrlabError):
            raise self._outcome
        return self._outcome

    def stream(self) -> Iterator[SegmentRecord]:
        """Yield segments as the worker produces them (streaming mode), then end or raise."""
        while True:
            try:
                event = self._events.get(timeout=self._wait_s())
            except queue.Empty:
                self._expire_if_queued()
                continue
            if event is _END:
                break
            assert isinstance(event, SegmentRecord)
            yield event
        self.result()  # raises the job's error, if any

    def _wait_s(self) -> float | None:
        # A job a worker holds is answered by its slot (result, timeout, kill): wait for it.
        if self._dispatched or self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def _expire_if_queued(self) -> None:
        """A job still queued at its deadline fails now, not when a worker frees up."""
        now = time.monotonic()
        with self._lock:
            if self._dispatched:
                return
            action = policy.step(self.state(running=False), now)
            if not isinstance(action, Answer):
                return
            self._dispatched = True  # no slot may start it any more
        self.finish(self.error(action.cause, action.where, now))

    # --- the manager's side ---------------------------------------------------------------
    @property
    def cancel_reason(self) -> str | None:
        """Why the job was cancelled (`request_cancel`), None if it was not."""
        return self._cancel

    @property
    def started_at(self) -> float:
        """When the worker began decoding (``time.monotonic()``; 0.0 before)."""
        return self._started_at

    def state(self, *, running: bool) -> JobState:
        """The job as its timeout policy sees it (`asrlab.service.policy.step`)."""
        return JobState(
            policy=self.metrics.policy,
            deadline=self.deadline,
            backstop_s=self.backstop_s,
            running=running,
            answered=self.done,
            cancelled=self._cancel is not None,
        )

    def claim(self) -> bool:
        """Take the job off the queue (a slot starts it, or it is dropped); False if it was."""
        with self._lock:
            if self._dispatched or self._done.is_set():
                return False
            self._dispatched = True
            return True

    def request_cancel(self, reason: str) -> None:
        self._cancel = reason

    def started(self, t: float, sent: float) -> None:
        """The worker began decoding at ``t``; the job was sent to it at ``sent``."""
        self.metrics.worker_start_s = t - sent
        self._started_at = t

    def segment(self, segment: SegmentRecord, now: float) -> None:
        """One streamed segment: to the caller's stream, unless it was answered already."""
        if self.metrics.first_segment_s is None:
            self.metrics.first_segment_s = now - self.metrics.submitted
        if not self.done:
            self._events.put(segment)

    def guarded(self, guard: GuardTimes) -> None:
        """The legacy guard's timings, as seconds after decoding began."""
        m, started = self.metrics, self._started_at
        m.guard_entered_s = guard.entered - started
        m.guard_left_s = guard.left - started
        m.guard_raised_s = None if guard.raised is None else guard.raised - started

    def error(self, cause: Cause, where: Where, now: float) -> AsrlabError:
        """The error the caller is told for ``cause`` (the metrics' status set to match)."""
        m = self.metrics
        if cause == Cause.CANCELLED:
            m.status = "cancelled"
            return JobCancelled(self.job_id, self._cancel or "cancelled")
        m.status, m.timed_out = "timeout", True
        return AsrTimeout(self.job_id, m.timeout_s or 0.0, now - m.submitted, m.policy, where)

    def finish(self, outcome: JobResult | AsrlabError) -> bool:
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
