"""The node: one job through every stage, with its deadline carried along, into a `JobRecord`.

    decode -> VAD -> arbiter.acquire -> worker.run -> arbiter.release (always, in finally)

The record's timeline has the incident's rows (docs/incident.md): received, decoded, VAD done,
lease granted, submitted, worker started, language detected, transcribe() returned, segments
done or timed out, result delivered or discarded as late. Times are seconds since the node
received the job, on the one monotonic clock every process of the lab shares.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from asrlab.audio import vad
from asrlab.audio.samples import SAMPLE_RATE_HZ, decode, validate
from asrlab.decoding.trace import UNINTELLIGIBLE
from asrlab.errors import AsrlabError, LeaseRejected
from asrlab.service.arbiter import Lease
from asrlab.service.jobs import JobHandle
from asrlab.service.manager import WorkerManager
from asrlab.service.realtime import RealtimeArbiter
from asrlab.service.remedies import Remedy


@dataclass
class JobRecord:
    """Everything the node knows about one job, as the client and the lab see it.

    ``client_error`` is the exact text the web client would show (None on success);
    ``notice`` what a successful answer tells the client it left out: audio the VAD gate did not
    decode (``no speech``), or windows `DecodeConfig.reject_loops` dropped (``unintelligible``).
    """

    job_id: str
    remedy: str
    received: float  # monotonic instant
    audio_s: float = 0.0
    status: str = "pending"  # ok | failed
    client_error: str | None = None
    notice: str | None = None
    timeline: list[tuple[str, float]] = field(default_factory=list)
    vad_spans: int | None = None
    vad_s: float | None = None
    lease_token: int | None = None
    lease_wait_s: float | None = None
    lease_held_s: float | None = None
    lease_hold_max_s: float | None = None
    text: str = ""
    segments: list[dict[str, Any]] = field(default_factory=list)
    trace: dict[str, Any] | None = None
    worker: dict[str, Any] | None = None  # the worker's JobMetrics row

    def mark(self, event: str, at: float | None = None) -> None:
        self.timeline.append((event, (time.monotonic() if at is None else at) - self.received))

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
        t = dict(self.timeline)
        summary = (self.trace or {}).get("summary", {})
        rows = [
            ("audio decode", t.get("decoded", 0.0)),
            ("VAD", (self.vad_s or 0.0)),
            ("transcribe()", summary.get("transcribe_s")),
            ("list(segments)", summary.get("iterate_s")),
        ]
        # Until the last work ended: under the legacy guard the decode outlives the client's answer.
        total = max(self.total_s, t.get("segments done", 0.0))
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

    def row(self) -> dict[str, Any]:
        """One flat row for results.parquet."""
        flat = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("timeline", "segments", "trace", "worker")
        }
        flat |= {f"t_{event.replace(' ', '_')}_s": at for event, at in self.timeline}
        flat |= {f"worker_{k}": v for k, v in (self.worker or {}).items()}
        flat["total_s"] = self.total_s
        flat["lease_overdue"] = self.lease_overdue
        return flat


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

    def revoke(self, lease: Lease, reason: str) -> None:
        """The arbiter's revoke callback: cancel the job that holds ``lease``."""
        handle = self._running.get(lease.token)
        if handle is not None:
            self.manager.cancel(handle, f"lease {lease.token} revoked: {reason}")

    def run(self, job_id: str, source: Any) -> JobRecord:
        """Take one job from receipt to the client's answer."""
        record = JobRecord(job_id=job_id, remedy=self.remedy.name, received=time.monotonic())
        record.mark("received", record.received)
        deadline = record.received + self.remedy.asr_timeout_s
        try:
            samples = self._decode(record, source)
            samples = self._vad(record, samples)
            if samples is not None:
                self._lease_and_transcribe(record, samples, deadline)
            record.status = "ok"
        except AsrlabError as e:
            record.status, record.client_error = "failed", str(e)
            record.mark(f"failed: {type(e).__name__}")
        record.answered_s = record.timeline[-1][1]
        return record

    def _decode(self, record: JobRecord, source: Any) -> np.ndarray:
        samples = source if isinstance(source, np.ndarray) else decode(source)
        samples = validate(samples)
        record.audio_s = len(samples) / SAMPLE_RATE_HZ
        record.mark("decoded")
        return samples

    def _vad(self, record: JobRecord, samples: np.ndarray) -> np.ndarray | None:
        """Run VAD (always measured, as in production); with the gate, decode only speech."""
        gated = vad.gate(
            samples, trim=self.remedy.vad_trim, config=self.vad_config, backend=self.vad_backend
        )
        record.vad_spans, record.vad_s = len(gated.found.spans), gated.found.seconds
        record.mark("VAD done")
        if not self.remedy.vad_gate:
            return samples
        if gated.samples is None:
            record.notice = "no speech"
            record.mark("no speech: not decoded")
            record.mark("result delivered")
            return None
        return gated.samples

    def _lease_and_transcribe(self, record: JobRecord, samples: np.ndarray, deadline: float):
        asked = time.monotonic()
        try:
            with self.arbiter.lease(
                record.job_id, hold_max_ms=self.hold_max_ms, deadline=deadline
            ) as lease:
                granted = time.monotonic()
                record.lease_token, record.lease_wait_s = lease.token, granted - asked
                record.lease_hold_max_s = lease.hold_max_ms / 1000
                record.mark("lease granted")
                try:
                    self._transcribe(record, samples, lease, deadline)
                finally:
                    record.lease_held_s = time.monotonic() - granted
                    self._running.pop(lease.token, None)
        except LeaseRejected:
            record.lease_wait_s = time.monotonic() - asked
            raise
        finally:
            if record.lease_token is not None:
                record.mark("lease released")

    def _transcribe(self, record: JobRecord, samples: np.ndarray, lease: Lease, deadline: float):
        timeout_s = max(0.0, deadline - time.monotonic())
        handle = self.manager.submit(
            samples, self.remedy.decode, job_id=record.job_id, timeout_s=timeout_s
        )
        self._running[lease.token] = handle
        self._handles[record.job_id] = handle
        record.mark("submitted")
        try:
            if self.remedy.result_mode == "streaming":
                for i, _ in enumerate(handle.stream()):
                    if i == 0:
                        record.mark("first segment")
            result = handle.result()
        except AsrlabError:
            self._worker_marks(record, handle)
            record.mark("timed out" if handle.metrics.timed_out else "worker failed")
            raise
        finally:
            record.worker = handle.metrics.row()
        self._worker_marks(record, handle, result.trace)
        record.segments, record.text, record.trace = result.segments, result.text, result.trace
        dropped = [w["index"] for w in result.trace["windows"] if w["outcome"] == UNINTELLIGIBLE]
        if dropped:
            record.notice = f"{UNINTELLIGIBLE}: window(s) {', '.join(map(str, dropped))} dropped"
            record.mark(f"{UNINTELLIGIBLE}: {len(dropped)} window(s) dropped")
        record.mark("result delivered")

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
        record.worker = m.row()
        if handle.late is not None:  # what the worker was doing all along, as its trace shows
            record.trace = handle.late.trace
            self._worker_marks(record, handle, handle.late.trace)
        if m.late_result and handle.deadline is not None:
            record.mark("result arrived late: discarded", handle.deadline + m.work_after_deadline_s)
        record.timeline.sort(key=lambda event: event[1])

    @staticmethod
    def _worker_marks(record: JobRecord, handle: JobHandle, trace: dict | None = None) -> None:
        """The worker-side rows of the timeline, from the worker's metrics and the trace."""
        m = handle.metrics
        if m.queue_wait_s is None or m.worker_start_s is None:
            return
        started = m.submitted + m.queue_wait_s + m.worker_start_s
        if "worker started" not in dict(record.timeline):
            record.mark("worker started", started)
        if trace is None:
            return
        summary = trace["summary"]
        stages = {r["stage"]: r["seconds"] for r in trace["stages"]}
        if summary.get("language"):
            detect = sum(v for k, v in stages.items() if k.startswith("language detection"))
            feats = stages.get("feature extraction", 0.0)
            record.mark(f"language detected: {summary['language']}", started + feats + detect)
        record.mark("transcribe() returned", started + summary["transcribe_s"])
        record.mark("segments done", started + summary["wall_s"])
