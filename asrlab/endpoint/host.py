"""The service behind `asrlab serve`'s app: the lab's node (`asrlab.service.build.service`),
loaded and held open in a thread of its own so the server answers (``/health`` 503) while the
model loads.

`Serving` is what the app needs of it; the fast tests pass a fake with canned records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from asrlab.endpoint.state import LeaseView, ServiceView
from asrlab.service.remedies import Remedy
from asrlab.service.settings import ServiceSettings

if TYPE_CHECKING:
    from asrlab.decoding.options import DecodeConfig
    from asrlab.decoding.trace import SegmentRecord
    from asrlab.service.node import JobRecord, Node

ALIAS = "whisper-1"  # the name OpenAI's examples send; it means the served model
OnSegment = Callable[["SegmentRecord"], None]


class Serving(Protocol):
    """What the app needs of the service behind it (`ServiceHost`; a fake in the fast tests)."""

    served_models: tuple[str, ...]
    acquire_timeout_ms: float
    model: str
    remedy: Remedy  # the effective one: its decode options, its timeout policy

    def start(self) -> None: ...  # returns at once; the service loads meanwhile
    def ready(self) -> bool: ...
    def failure(self) -> str | None: ...  # why the service could not start, if it could not
    def run(
        self,
        job_id: str,
        data: bytes,
        *,
        decode: DecodeConfig | None = None,
        on_segment: OnSegment | None = None,
    ) -> JobRecord: ...  # blocking
    def cancel(self, job_id: str, reason: str) -> bool: ...
    def settle(self, record: JobRecord) -> None: ...  # blocking: late result in, job forgotten
    def view(self) -> ServiceView: ...
    def events(self, since: int) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class ServiceHost:
    """The lab's service held open in a thread of its own, ``n_workers`` worker processes."""

    def __init__(self, settings: ServiceSettings, *, n_workers: int = 1) -> None:
        self.settings = settings
        self.n_workers = n_workers
        self.model = settings.model
        self.remedy = settings.effective_remedy()
        self.served_models: tuple[str, ...] = (settings.model, ALIAS)
        self.acquire_timeout_ms = settings.acquire_timeout_ms
        self._node: Node | None = None
        self._error: str | None = None
        self._up = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="asrlab-service", daemon=True)

    @property
    def node(self) -> Node | None:
        return self._node

    def start(self) -> None:
        self._thread.start()

    def _hold(self) -> None:
        from asrlab.service.build import service

        try:
            with service(self.settings, n_workers=self.n_workers) as node:
                self._node = node
                self._up.set()
                self._stop.wait()
        except Exception as e:  # the server stays up to say why on /health
            self._error = f"{type(e).__name__}: {e}"
        finally:
            self._node = None

    def ready(self) -> bool:
        return self._up.is_set() and self._node is not None

    def failure(self) -> str | None:
        return self._error

    def _running(self) -> Node:
        node = self._node
        if node is None:
            raise RuntimeError("the service is not running")
        return node

    def run(
        self,
        job_id: str,
        data: bytes,
        *,
        decode: DecodeConfig | None = None,
        on_segment: OnSegment | None = None,
    ) -> JobRecord:
        return self._running().run(job_id, data, decode=decode, on_segment=on_segment)

    def cancel(self, job_id: str, reason: str) -> bool:
        node = self._node
        return node is not None and node.cancel(job_id, reason)

    def settle(self, record: JobRecord) -> None:
        """Wait for a given-up job's late result (recorded on ``record``), then let the node
        drop the job (its samples)."""
        node = self._node
        if node is None:
            return
        try:
            node.settle(record)
        finally:
            node.forget(record.job_id)

    def view(self) -> ServiceView:
        node = self._node
        if node is None:
            return ServiceView(lease_state="LOADING")
        arbiter, manager = node.arbiter, node.manager
        state = arbiter.state()
        with arbiter.lock:
            now_ms = time.monotonic() * 1000.0
            live = arbiter.core.live
            waiters = len(arbiter.core.waiters)
        leases = tuple(
            LeaseView(
                token=lease.token,
                holder=lease.holder,
                held_s=(now_ms - lease.granted_ms) / 1000.0,
                hold_max_s=lease.hold_max_ms / 1000.0,
                overdue=now_ms > lease.due_ms,
            )
            for lease in live
        )
        return ServiceView(
            lease_state=state.value,
            leases=leases,
            lease_waiters=waiters,
            queue_depth=manager.queue_depth,
            worker_pids=tuple(manager.pids),
            restarts=manager.respawns,
            crashes=manager.crashes,
            late_results=manager.late_results,
        )

    def events(self, since: int) -> list[dict[str, Any]]:
        from asrlab.service.build import arbiter_events

        node = self._node
        return [] if node is None else arbiter_events(node.arbiter)[since:]

    def close(self, timeout_s: float = 60.0) -> None:
        """Stop the service: its workers are ended and its arbiter closed, in the holding thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
