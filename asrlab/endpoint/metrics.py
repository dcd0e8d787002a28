"""``GET /metrics``: the server in Prometheus's text format (prometheus_client).

Each app has a registry of its own (never the process's global one: two servers in one process,
as the tests and the HTTP replay run them, would share counts). What each request leaves is
observed when it is answered (`Metrics.observe`); the service's state (the lease, the queue, the
workers) is read at each scrape by a collector, so it is never stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from asrlab.endpoint.state import ServiceView
from asrlab.service.node import JobRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LEASE_STATES = ("LOADING", "NORMAL", "HIGH_PRESSURE", "GPU_USAGE_HIGH")
# Seconds: a tiny clip answered at once up to the incident's 30 s timeout and past it.
LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120)
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5)
ATTEMPT_BUCKETS = (1, 2, 3, 4, 5, 6)  # the default ladder has six temperatures


class _ServiceCollector(Collector):
    """The service's state, read when scraped."""

    def __init__(self, view: Callable[[], ServiceView], inflight: Callable[[], int]) -> None:
        self._view = view
        self._inflight = inflight

    def collect(self) -> Iterator[Metric]:
        v = self._view()
        state = GaugeMetricFamily(
            "asrlab_lease_state", "The arbiter's state (1: the current one).", labels=["state"]
        )
        for name in LEASE_STATES:
            state.add_metric([name], 1.0 if v.lease_state == name else 0.0)
        yield state
        gauges = {
            "asrlab_leases_live": ("Leases held now.", len(v.leases)),
            "asrlab_leases_overdue": ("Leases held past their hold_max.", _overdue(v)),
            "asrlab_lease_waiters": ("Jobs waiting for a lease.", v.lease_waiters),
            "asrlab_queue_depth": ("Jobs queued at the worker manager.", v.queue_depth),
            "asrlab_inflight_requests": ("Requests not answered yet.", self._inflight()),
            "asrlab_workers": ("Worker processes alive.", len(v.worker_pids)),
        }
        for name, (doc, value) in gauges.items():
            yield GaugeMetricFamily(name, doc, value=float(value))
        counters = {
            "asrlab_worker_restarts": ("Workers started again (killed or crashed).", v.restarts),
            "asrlab_worker_crashes": ("Workers that died on their own.", v.crashes),
            "asrlab_late_results": ("Results that came after their caller was answered.",
                                    v.late_results),
        }  # fmt: skip
        for name, (doc, value) in counters.items():
            yield CounterMetricFamily(name, doc, value=float(value))


def _overdue(v: ServiceView) -> int:
    return sum(lease.overdue for lease in v.leases)


class Metrics:
    """The app's registry and what it counts."""

    def __init__(self, view: Callable[[], ServiceView], inflight: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "asrlab_requests",
            "Transcription requests answered, by HTTP status (499: the client left) and code.",
            ["status", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "asrlab_request_seconds",
            "Seconds from a request's arrival to its answer.",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.rtf = Histogram(
            "asrlab_rtf",
            "Real-time factor of answered jobs: seconds in the node per second of audio.",
            buckets=RTF_BUCKETS,
            registry=self.registry,
        )
        self.attempts = Histogram(
            "asrlab_attempts_per_window",
            "Decoder attempts per 30 s window (more than 1: the temperature ladder climbed).",
            buckets=ATTEMPT_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_ServiceCollector(view, inflight))

    def observe(self, status: int, code: str, seconds: float, record: JobRecord | None) -> None:
        self.requests.labels(status=str(status), code=code).inc()
        self.latency.observe(seconds)
        if record is None:
            return
        if record.status == "ok" and record.audio_s > 0:
            self.rtf.observe(record.total_s / record.audio_s)
        if record.trace is not None:
            for window in record.trace.windows:
                self.attempts.observe(len(window.attempts))

    def render(self) -> bytes:
        return generate_latest(self.registry)
