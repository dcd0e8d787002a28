"""The node: one job through every stage, with its deadline carried along, into a `JobRecord`.

    decode -> VAD -> arbiter.acquire -> worker.run -> arbiter.release (always, in finally)

The record's timeline has the incident's rows (docs/incident.md): received, decoded, VAD done,
lease granted, submitted, worker started, language detected, transcribe() returned, segments
done or timed out, result delivered or discarded as late (`asrlab.service.rows.Mark`). Times are
seconds since the node received the job, on the one monotonic clock every process of the lab
shares. `JobRecord.row` is the job's `JobRow`, each timeline row in its own field.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from asrlab.audio import vad
from asrlab.audio.samples import SAMPLE_RATE_HZ, decode, validate
from asrlab.decoding.options import DecodeConfig
from asrlab.decoding.trace import DecodeTrace, SegmentRecord, WindowOutcome
from asrlab.errors import AsrlabError, JobCancelled, LeaseRejected
from asrlab.service.arbiter import Lease
from asrlab.service.jobs import JobHandle, JobMetrics
from asrlab.service.manager import WorkerManager
from asrlab.service.message import ResultMode
from asrlab.service.realtime import RealtimeArbiter
from asrlab.service.remedies import Remedy
from asrlab.service.rows import JobRow, Mark, with_worker


@dataclass
class JobRecord:
    """Everything the node knows about one job, as the client and the lab see it.

    ``client_error`` is the exact text the web client would show (None on success);
    ``notice`` what a successful answer tells the client it left out: audio the VAD gate did not
    decode (``no speech``), or windows `DecodeConfig.reject_loops` dropped (``unintelligible``).
    ``timeline`` is the incident's table as shown (text, seconds); ``marks`` the same instants
    by `Mark`, and ``details`` what a mark's text names (the language detected, the error's
    class).
    """

    job_id: str
    remedy: str
    received: float  # monotonic instant
    audio_s: float = 0.0
    status: str = "pending"  # ok | failed
    client_error: str | None = None
    error: AsrlabError | None = None  # what failed it: a server maps its class to a status
    notice: str | None = None
    timeline: list[tuple[str, float]] = field(default_factory=list)
    marks: dict[Mark, float] = field(default_factory=dict)
    details: dict[Mark, str] = field(default_factory=dict)
    vad_spans: int | None = None
    vad_s: float | None = None
    lease_token: int | None = None
    lease_wait_s: float | None = None
    lease_held_s: float | None = None
    lease_hold_max_s: float | None = None
    text: str = ""
    segments: tuple[SegmentRecord, ...] = ()
    trace: DecodeTrace | None = None
    worker: JobMetrics | None = None  # the worker's measurements, as last read
    # Served (`asrlab.endpoint`): the status the HTTP client got, and what its leaving did
    http_status: int | None = None
    disconnect_action: str | None = None  # cancelled | ignored

    def mark(self, mark: Mark, at: float | None = None, detail: str | None = None) -> None:
        """Record ``mark`` at monotonic instant ``at`` (default: now)."""
        t = (time.monotonic() if at is None else at) - self.received
        self.timeline.append((mark.label(detail), t))
        self.marks[mark] = t
        if detail is not None:
            self.details[mark] = detail

    answered_s: float | None = None  # when the client got its answer (result or error)

    @property
    def total_s(self) -> float:
        """Seconds from receipt to the client's answer (a late result afterwards is not counted)."""
        return self.answered_s if self.answered_s is not None else 0.0

    @property
    def lease_overdue(self) -> bool:
        return bool(
            self.lease_held_s
            and self.lease_hold_max_s
            and self.lease_held_s > self.lease_hold_max_s
        )

    def stage_rows(self) -> list[dict[str, Any]]:
        """The incident's second table: audio decode, VAD, transcribe(), list(segments), total."""
        t = self.marks
        trace = self.trace
        rows = [
            ("audio decode", t.get(Mark.DECODED, 0.0)),
            ("VAD", (self.vad_s or 0.0)),
            ("transcribe()", None if trace is None else trace.transcribe_s),
            ("list(segments)", None if trace is None else trace.iterate_s),
        ]
        # Until the last work ended: under the legacy guard the decode outlives the client's answer.
        total = max(self.total_s, t.get(Mark.SEGMENTS_DONE, 0.0))
        out = [
            {"stage": s, "seconds": v, "share": (v / total if v and total else None)}
            for s, v in rows
        ]
        out.append(
            {
                "stage": "total",
                "seconds": total,
                "share": total / self.audio_s if self.audio_s else None,
            }
        )
        return out  # the total row's "share" column holds the RTF, as in docs/incident.md

    def row(self) -> JobRow:
        """The job's `JobRow`: what the node knows of it (a workload adds its plan)."""
        instants: dict[str, Any] = {mark.column: t for mark, t in self.marks.items()}
        row = JobRow(
            job_id=self.job_id,
            remedy=self.remedy,
            status=self.status,
            audio_s=self.audio_s,
            client_error=self.client_error,
            error_type=self.details.get(Mark.FAILED),
            notice=self.notice,
            text=self.text,
            received=self.received,
            answered_s=self.answered_s,
            total_s=self.total_s,
            vad_spans=self.vad_spans,
            vad_s=self.vad_s,
            lease_token=self.lease_token,
            lease_wait_s=self.lease_wait_s,
            lease_held_s=self.lease_held_s,
            lease_hold_max_s=self.lease_hold_max_s,
            lease_overdue=self.lease_overdue,
            detected_language=self.details.get(Mark.LANGUAGE_DETECTED),
            http_status=self.http_status,
            disconnect_action=self.disconnect_action,
            **instants,
        )
        return row if self.worker is None else with_worker(row, self.worker)


class Node:
    """The service node of the incident, built from real parts.

    It owns neither the arbiter nor the worker manager: several nodes (jobs) share them, as in
    production, so that one job's overdue lease can refuse another's.
    """

    def __init__(
        self,
        arbiter: RealtimeArbiter,
        manager: WorkerManager,
        remedy: Remedy,
        *,
        vad_config: vad.VadConfig | None = None,
        vad_backend: str = "onnx",
        hold_max_ms: float | None = None,
    ) -> None:
        self.arbiter = arbiter
        self.manager = manager
        self.remedy = remedy
        self.vad_config = vad_config or vad.VadConfig()
        self.vad_backend = vad_backend
        self.hold_max_ms = hold_max_ms
        self._running: dict[int, JobHandle] = {}  # lease token -> job, for revocation
        self._handles: dict[str, JobHandle] = {}  # job id -> its worker job, for `settle`
        self._cancelled: dict[str, str] = {}  # job id -> why, for a job not yet submitted
        self._active: set[str] = set()  # job ids inside `run`: only those can be cancelled
        self._lock = threading.Lock()  # `cancel` comes from another thread than `run`

    def revoke(self, lease: Lease, reason: str) -> None:
        """The arbiter's revoke callback: cancel the job that holds ``lease``."""
        handle = self._running.get(lease.token)
        if handle is not None:
            self.manager.cancel(handle, f"lease {lease.token} revoked: {reason}")

    def run(
        self,
        job_id: str,
        source: Any,
        *,
        decode: DecodeConfig | None = None,
        on_segment: Callable[[SegmentRecord], None] | None = None,
    ) -> JobRecord:
        """Take one job from receipt to the client's answer.

        ``decode`` replaces the remedy's options for this job (a request's language or prompt;
        the remedy's guard and timeouts stay). ``on_segment`` is called, in this thread, with
        each segment as the client may see it: as the worker streams it under a streaming
        remedy, else all of them once the result is in.
        """
        record = JobRecord(job_id=job_id, remedy=self.remedy.name, received=time.monotonic())
        record.mark(Mark.RECEIVED, record.received)
        deadline = record.received + self.remedy.asr_timeout_s
        with self._lock:
            self._active.add(job_id)
        try:
            samples = self._decode(record, source)
            speech = self._vad(record, samples)
            if speech is not None:
                self._lease_and_transcribe(
                    record, speech, deadline, decode or self.remedy.decode, on_segment
                )
            record.status = "ok"
        except AsrlabError as e:
            record.status, record.client_error, record.error = "failed", str(e), e
            record.mark(Mark.FAILED, detail=type(e).__name__)
        finally:
            with self._lock:
                self._active.discard(job_id)
                self._cancelled.pop(job_id, None)  # a cancel that came too late to matter
        record.answered_s = record.timeline[-1][1]
        return record

    def cancel(self, job_id: str, reason: str) -> bool:
        """Stop ``job_id`` (its client went away): a submitted job is cancelled by its manager
        (a running worker is killed and replaced, under every guard); one not yet submitted
        fails with `JobCancelled` before it takes a worker. False: the job is not running here
        (unknown, or answered), so nothing is kept for a later job of the same id."""
        with self._lock:
            if job_id not in self._active:
                return False
            handle = self._handles.get(job_id)
            if handle is None or handle.metrics.total_s is not None:
                # Not submitted yet (a handle there is an earlier job's of the same id)
                self._cancelled[job_id] = reason
                return True
        self.manager.cancel(handle, reason)
        return True

    def forget(self, job_id: str) -> None:
        """Drop what the node keeps of a settled job (its samples); a server calls it per job."""
        with self._lock:
            self._handles.pop(job_id, None)
            self._cancelled.pop(job_id, None)

    def _decode(self, record: JobRecord, source: Any) -> np.ndarray:
        samples = source if isinstance(source, np.ndarray) else decode(source)
        samples = validate(samples)
        record.audio_s = len(samples) / SAMPLE_RATE_HZ
        record.mark(Mark.DECODED)
        return samples

    def _vad(self, record: JobRecord, samples: np.ndarray) -> np.ndarray | None:
        """Run VAD (always measured, as in production); with the gate, decode only speech."""
        gated = vad.gate(
            samples, trim=self.remedy.vad_trim, config=self.vad_config, backend=self.vad_backend
        )
        record.vad_spans, record.vad_s = len(gated.found.spans), gated.found.seconds
        record.mark(Mark.VAD_DONE)
        if not self.remedy.vad_gate:
            return samples
        if gated.samples is None:
            record.notice = "no speech"
            record.mark(Mark.NO_SPEECH)
            record.mark(Mark.RESULT_DELIVERED)
            return None
        return gated.samples

    def _lease_and_transcribe(
        self,
        record: JobRecord,
        samples: np.ndarray,
        deadline: float,
        decode: DecodeConfig,
        on_segment: Callable[[SegmentRecord], None] | None,
    ) -> None:
        asked = time.monotonic()
        try:
            with self.arbiter.lease(
                record.job_id, hold_max_ms=self.hold_max_ms, deadline=deadline
            ) as lease:
                granted = time.monotonic()
                record.lease_token, record.lease_wait_s = lease.token, granted - asked
                record.lease_hold_max_s = lease.hold_max_ms / 1000
                record.mark(Mark.LEASE_GRANTED)
                try:
                    self._transcribe(record, samples, lease, deadline, decode, on_segment)
                finally:
                    record.lease_held_s = time.monotonic() - granted
                    self._running.pop(lease.token, None)
        except LeaseRejected:
            record.lease_wait_s = time.monotonic() - asked
            raise
        finally:
            if record.lease_token is not None:
                record.mark(Mark.LEASE_RELEASED)

    def _transcribe(
        self,
        record: JobRecord,
        samples: np.ndarray,
        lease: Lease,
        deadline: float,
        decode: DecodeConfig,
        on_segment: Callable[[SegmentRecord], None] | None,
    ) -> None:
        timeout_s = max(0.0, deadline - time.monotonic())
        with self._lock:
            why = self._cancelled.pop(record.job_id, None)
            if why is not None:  # its client left while it waited for the lease
                raise JobCancelled(record.job_id, why)
            handle = self.manager.submit(
                samples, decode, job_id=record.job_id, timeout_s=timeout_s
            )
            self._handles[record.job_id] = handle
        self._running[lease.token] = handle
        record.mark(Mark.SUBMITTED)
        try:
            streamed = self.remedy.result_mode == ResultMode.STREAMING
            if streamed:
                for i, segment in enumerate(handle.stream()):
                    if i == 0:
                        record.mark(Mark.FIRST_SEGMENT)
                    if on_segment is not None:
                        on_segment(segment)
            result = handle.result()
        except AsrlabError:
            self._worker_marks(record, handle)
            record.mark(Mark.TIMED_OUT if handle.metrics.timed_out else Mark.WORKER_FAILED)
            raise
        finally:
            record.worker = replace(handle.metrics)  # a copy: the manager goes on
        self._worker_marks(record, handle, result.trace)
        record.segments, record.text, record.trace = result.segments, result.text, result.trace
        if on_segment is not None and not streamed:
            for segment in result.segments:
                on_segment(segment)
        lost = WindowOutcome.UNINTELLIGIBLE
        dropped = [w.index for w in result.trace.windows if w.outcome == lost]
        if dropped:
            record.notice = f"{lost}: window(s) {', '.join(map(str, dropped))} dropped"
            record.mark(Mark.WINDOWS_DROPPED, detail=str(len(dropped)))
        record.mark(Mark.RESULT_DELIVERED)

    def settle(self, record: JobRecord, timeout_s: float = 120.0) -> None:
        """Wait for a given-up job's late result, then record when it came and that it was
        discarded (the incident's last timeline row). No-op for a job that was answered."""
        handle = self._handles.get(record.job_id)
        if handle is None or record.status == "ok" or handle.metrics.killed:
            return
        end = time.monotonic() + timeout_s
        while not handle.metrics.late_result and time.monotonic() < end:
            time.sleep(0.05)
        m = handle.metrics
        record.worker = replace(m)
        if handle.late is not None:  # what the worker was doing all along, as its trace shows
            record.trace = handle.late.trace
            self._worker_marks(record, handle, handle.late.trace)
        if m.late_result and handle.deadline is not None:
            record.mark(Mark.LATE_RESULT, handle.deadline + m.work_after_deadline_s)
        record.timeline.sort(key=lambda event: event[1])

    @staticmethod
    def _worker_marks(
        record: JobRecord, handle: JobHandle, trace: DecodeTrace | None = None
    ) -> None:
        """The worker-side rows of the timeline, from the worker's metrics and the trace."""
        m = handle.metrics
        if m.queue_wait_s is None or m.worker_start_s is None:
            return
        started = m.submitted + m.queue_wait_s + m.worker_start_s
        if Mark.WORKER_STARTED not in record.marks:
            record.mark(Mark.WORKER_STARTED, started)
        if trace is None:
            return
        if trace.language:  # known once the features and any detection (0 s if given) are done
            detect = trace.language_encode_s + trace.language_detect_s
            language_at = started + trace.feature_s + detect
            record.mark(Mark.LANGUAGE_DETECTED, language_at, trace.language)
        record.mark(Mark.TRANSCRIBE_RETURNED, started + trace.transcribe_s)
        record.mark(Mark.SEGMENTS_DONE, started + trace.wall_s)
