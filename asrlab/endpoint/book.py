"""The app's book of requests: those in flight (where each is) and the last ones answered (their
records, so that a late result recorded afterwards by `Serving.settle` shows on the status page).

Written from the event loop; read also by the threads that draw the state and by the drain's
timer (hence the lock). Records in it may be completed later by a settling thread.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

from asrlab.endpoint.state import Counters, InflightView, JobView
from asrlab.service.node import JobRecord

RECENT_JOBS = 50  # kept for /v1/lab/state and the status page


@dataclass
class Flight:
    """One request in flight: its job id, the stage it reached and the segments streamed."""

    job_id: str
    arrived: float  # monotonic
    stage: str = "uploading"
    stream: bool = False
    segments: int = 0


class Book:
    def __init__(self) -> None:
        self.inflight: dict[str, Flight] = {}
        self.recent: deque[tuple[JobRecord, str]] = deque(maxlen=RECENT_JOBS)
        self.by_status: Counter[int] = Counter()
        self.client_gone = 0
        self.cancelled_on_disconnect = 0
        self._lock = threading.Lock()

    def open(self, flight: Flight) -> None:
        with self._lock:
            self.inflight[flight.job_id] = flight

    def close(self, flight: Flight) -> None:
        with self._lock:
            if self.inflight.get(flight.job_id) is flight:
                del self.inflight[flight.job_id]

    def inflight_ids(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self.inflight)

    def answered(self, status: int, record: JobRecord | None = None, code: str = "ok") -> None:
        """Count an answer (``status`` 499: no one was listening); keep the job's record."""
        with self._lock:
            self.by_status[status] += 1
            if record is not None:
                self.recent.appendleft((record, code))

    def inflight_views(self, holders: set[str]) -> tuple[InflightView, ...]:
        """The requests in flight, oldest first; ``holders``: the job ids holding a lease."""
        now = time.monotonic()
        views = []
        with self._lock:
            flights = sorted(self.inflight.values(), key=lambda f: f.arrived)
        for f in flights:
            stage = f.stage
            if f.stage == "running" and f.job_id in holders:
                stage = "lease granted"
            if f.segments:
                stage = f"{stage}: {f.segments} segment(s)"
            views.append(InflightView(f.job_id, stage, now - f.arrived, f.stream))
        return tuple(views)

    def job_views(self, n: int = RECENT_JOBS) -> tuple[JobView, ...]:
        with self._lock:
            recent = list(self.recent)[:n]
        return tuple(JobView.of(record, code) for record, code in recent)

    def counters(self) -> Counters:
        with self._lock:
            by_status = dict(self.by_status)
        return Counters(by_status, self.client_gone, self.cancelled_on_disconnect)
