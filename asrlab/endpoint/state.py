"""What a running `asrlab serve` can say about itself, as records: ``GET /v1/lab/state`` sends
`LabState` as JSON (``dataclasses.asdict``), the status page (`asrlab.endpoint.status_page`)
draws it and ``/metrics`` reads the same numbers (`asrlab.endpoint.metrics`).

Pure: built from the service's parts by `asrlab.endpoint.host` and from the app's own book of
requests (`asrlab.endpoint.book`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asrlab.service.node import JobRecord


@dataclass(frozen=True)
class LeaseView:
    """One live lease: who holds it, for how long, and whether it is past its ``hold_max``."""

    token: int
    holder: str  # the job id
    held_s: float
    hold_max_s: float
    overdue: bool


@dataclass(frozen=True)
class ServiceView:
    """The service behind the app at one instant: the arbiter and the worker manager.

    Attributes:
        lease_state: the arbiter's `State` (``NORMAL``, ``HIGH_PRESSURE``, ``GPU_USAGE_HIGH``).
        leases: the live leases.
        lease_waiters: jobs waiting for a lease.
        queue_depth: jobs queued at the manager, no worker holding them yet.
        worker_pids: the live workers (a respawn changes them).
        restarts, crashes, late_results: the manager's counters since it started.
    """

    lease_state: str = "NORMAL"
    leases: tuple[LeaseView, ...] = ()
    lease_waiters: int = 0
    queue_depth: int = 0
    worker_pids: tuple[int, ...] = ()
    restarts: int = 0
    crashes: int = 0
    late_results: int = 0


@dataclass(frozen=True)
class InflightView:
    """A request the server has not answered yet: its job, where it is, since when."""

    job_id: str
    stage: str  # uploading | queued | running | lease granted | streaming: N segment(s) ...
    age_s: float  # seconds since the request arrived
    stream: bool = False


@dataclass(frozen=True)
class TimelineEvent:
    event: str
    t_s: float  # seconds since the node received the job


@dataclass(frozen=True)
class JobView:
    """A finished request: what its client got and its job's timeline."""

    job_id: str
    status: str  # the job's: ok | failed
    http_status: int | None  # what was sent; 499: the client had gone
    code: str  # ok, or the error's code (LeaseRejected, AsrTimeout...)
    audio_s: float
    total_s: float
    disconnect_action: str | None
    error: str | None
    received: float  # the monotonic instant the timeline counts from (one clock per host)
    timeline: tuple[TimelineEvent, ...]

    @classmethod
    def of(cls, record: JobRecord, code: str) -> JobView:
        return cls(
            job_id=record.job_id,
            status=record.status,
            http_status=record.http_status,
            code=code,
            audio_s=record.audio_s,
            total_s=record.total_s,
            disconnect_action=record.disconnect_action,
            error=record.client_error,
            received=record.received,
            timeline=tuple(TimelineEvent(e, t) for e, t in sorted(record.timeline, key=_t)),
        )


def _t(event: tuple[str, float]) -> float:
    return event[1]


@dataclass(frozen=True)
class Counters:
    """Requests answered since the server started, by HTTP status (499: the client left)."""

    by_status: dict[int, int] = field(default_factory=dict)
    client_gone: int = 0
    cancelled_on_disconnect: int = 0


@dataclass(frozen=True)
class LabState:
    """``GET /v1/lab/state``: the server's settings, its service, its requests."""

    remedy: str
    policy: str
    model: str
    ready: bool
    shutting_down: bool
    service: ServiceView
    inflight: tuple[InflightView, ...]
    jobs: tuple[JobView, ...]  # the last jobs, newest first
    counters: Counters
