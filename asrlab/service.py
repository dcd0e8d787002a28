"""The service of the incident, built from real parts in one place for every experiment.

One `WorkerManager`, one `RealtimeArbiter` and one `Node` that shares them, as in production:
the replay (two jobs) and the workloads (many) must run the very same service, or a difference
between their numbers could come from how each was wired rather than from the remedy.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, replace
from typing import Any

from asrlab import vad
from asrlab.arbiter import ArbiterConfig, Lease, RealtimeArbiter
from asrlab.manager import WorkerManager
from asrlab.pipeline import Node
from asrlab.remedies import Remedy, remedy
from asrlab.worker import WorkerConfig


def effective_remedy(
    name: str, *, asr_timeout_s: float | None = None, segments_timeout_s: float | None = None
) -> Remedy:
    """The named remedy with threshold overrides applied (None keeps the remedy's own)."""
    overrides: dict[str, Any] = {}
    if asr_timeout_s is not None:
        overrides["asr_timeout_s"] = asr_timeout_s
    if segments_timeout_s is not None:
        overrides["segments_timeout_s"] = segments_timeout_s
    return replace(remedy(name), **overrides)


@contextlib.contextmanager
def service(
    chosen: Remedy,
    *,
    model: str = "base",
    compute_type: str = "float32",
    worker_threads: int = 0,
    capacity: int = 1,
    hold_max_ms: float = 20_000.0,
    acquire_timeout_ms: float = 5_000.0,
    vad_backend: str = "onnx",
) -> Iterator[Node]:
    """``with service(remedy, ...) as node:`` a running node; every part is stopped on exit.

    Args:
        chosen: the remedy (with any overrides already applied, see `effective_remedy`).
        model, compute_type, worker_threads: the worker's model and how it runs (0 threads: one
            per core). float32 is the CPU's closest analogue of production's float16 on GPU.
        capacity, hold_max_ms, acquire_timeout_ms: the arbiter's (`ArbiterConfig`); every lease
            gets ``hold_max_ms``, the arbiter's default, as in the incident.
        vad_backend: the node's VAD backend; it is warmed up before the node is yielded, as
            production loads its VAD model before jobs arrive.

    The node's ``arbiter`` and ``manager`` are the shared parts (read ``arbiter_events`` after
    the jobs have run).
    """
    worker_config = WorkerConfig(
        model=model,
        cpu_threads=worker_threads,
        compute_type=compute_type,
        policy=chosen.policy,
        asr_timeout_s=chosen.asr_timeout_s,
        segments_timeout_s=chosen.segments_timeout_s,
        result_mode=chosen.result_mode,
    )
    arbiter_config = ArbiterConfig(
        capacity=capacity,
        default_hold_max_ms=hold_max_ms,
        acquire_timeout_ms=acquire_timeout_ms,
        policy=chosen.arbiter_policy,
    )
    vad.warm_up(vad_backend)
    nodes: list[Node] = []

    def revoke(lease: Lease, why: str) -> None:
        nodes[0].revoke(lease, why)  # the node exists before any lease can be granted

    with (
        WorkerManager(worker_config) as manager,
        RealtimeArbiter(arbiter_config, on_revoke=revoke) as arbiter,
    ):
        nodes.append(Node(arbiter, manager, chosen, vad_backend=vad_backend))
        yield nodes[0]


# The fields a ReplayConfig and a WorkloadConfig share with `service`'s keyword arguments.
SETTINGS = (
    "model",
    "compute_type",
    "worker_threads",
    "capacity",
    "hold_max_ms",
    "acquire_timeout_ms",
    "vad_backend",
)


def settings(config: Any) -> dict[str, Any]:
    """`service`'s keyword arguments, read from an experiment's config (its `SETTINGS` fields)."""
    return {name: getattr(config, name) for name in SETTINGS}


def arbiter_events(arbiter: RealtimeArbiter) -> list[dict[str, Any]]:
    """The arbiter's event trace as rows (t_ms, kind, token, holder, detail), under its lock."""
    with arbiter.lock:
        return [asdict(e) for e in arbiter.core.events]


def remedy_columns(chosen: Remedy) -> dict[str, Any]:
    """The remedy as flat ``remedy_*`` columns of a results row (decode options as JSON)."""
    row = {f"remedy_{k}": v for k, v in chosen.row().items()}
    row["remedy_decode"] = json.dumps(row["remedy_decode"])
    return row
