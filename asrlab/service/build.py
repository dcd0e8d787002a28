"""The service of the incident, built from real parts in one place for every experiment.

One `WorkerManager`, one `RealtimeArbiter` and one `Node` that shares them, as in production:
the replay (two jobs) and the workloads (many) must run the very same service, or a difference
between their numbers could come from how each was wired rather than from the remedy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from asrlab.audio import vad
from asrlab.service import usage
from asrlab.service.arbiter import ArbiterConfig, Lease
from asrlab.service.manager import WorkerManager
from asrlab.service.node import Node
from asrlab.service.realtime import RealtimeArbiter
from asrlab.service.settings import ServiceSettings
from asrlab.service.worker import WorkerConfig


@contextlib.contextmanager
def service(settings: ServiceSettings, *, n_workers: int = 1) -> Iterator[Node]:
    """``with service(settings) as node:`` a running node; every part is stopped on exit.

    The arbiter samples ``settings.usage`` (off by default, as the incident's replay runs it).

    The node runs ``settings.effective_remedy()`` (``node.remedy``). Its VAD backend is warmed
    up before the node is yielded, as production loads its VAD model before jobs arrive. The
    node's ``arbiter`` and ``manager`` are the shared parts (read ``arbiter_events`` after the
    jobs have run). ``n_workers`` worker processes serve the node's queue (a server's
    ``--workers``); the arbiter's ``capacity`` is how many leases it grants at once.
    """
    chosen = settings.effective_remedy()
    worker_config = WorkerConfig(
        model=settings.model,
        n_workers=n_workers,
        cpu_threads=settings.worker_threads,
        compute_type=settings.compute_type,
        policy=chosen.policy,
        asr_timeout_s=chosen.asr_timeout_s,
        segments_timeout_s=chosen.segments_timeout_s,
        result_mode=chosen.result_mode,
    )
    arbiter_config = ArbiterConfig(
        capacity=settings.capacity,
        default_hold_max_ms=settings.hold_max_ms,
        acquire_timeout_ms=settings.acquire_timeout_ms,
        policy=chosen.arbiter_policy,
    )
    vad.warm_up(settings.vad_backend)
    nodes: list[Node] = []

    def revoke(lease: Lease, why: str) -> None:
        nodes[0].revoke(lease, why)  # the node exists before any lease can be granted

    with WorkerManager(worker_config) as manager:
        # The sampler reads the manager's workers as they are at each sample (respawns change them).
        sampler = usage.sampler_for(settings.usage, lambda: manager.pids)
        with RealtimeArbiter(arbiter_config, sampler=sampler, on_revoke=revoke) as arbiter:
            nodes.append(Node(arbiter, manager, chosen, vad_backend=settings.vad_backend))
            yield nodes[0]


def arbiter_events(arbiter: RealtimeArbiter) -> list[dict[str, Any]]:
    """The arbiter's event trace as rows (t_ms, kind, token, holder, detail), under its lock."""
    with arbiter.lock:
        return [asdict(e) for e in arbiter.core.events]
