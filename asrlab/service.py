"""The service of the incident, built from real parts in one place for every experiment.

One `WorkerManager`, one `RealtimeArbiter` and one `Node` that shares them, as in production:
the replay (two jobs) and the workloads (many) must run the very same service, or a difference
between their numbers could come from how each was wired rather than from the remedy.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from asrlab import vad
from asrlab.arbiter import ArbiterConfig, Lease, RealtimeArbiter
from asrlab.errors import ConfigError
from asrlab.manager import WorkerManager
from asrlab.pipeline import Node
from asrlab.remedies import REMEDIES, Remedy, remedy
from asrlab.worker import WorkerConfig


def positive(x: Any) -> bool:
    """A finite number > 0 (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def none_or_positive(x: Any) -> bool:
    return x is None or positive(x)


def whole(x: Any, least: int) -> bool:
    """A whole number >= `least` (not a bool)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= least


@dataclass(frozen=True)
class ServiceSettings:
    """How the service is built: what the replay and a workload share (both subclass this).

    Attributes:
        model, compute_type, worker_threads: the worker's model and how it runs (0 threads: one
            per core). float32 is the CPU's closest analogue of production's float16 on GPU,
            and slower than int8 ("auto" on CPU): in int8 the replay's job A decodes in about
            25 s on the 2-core lab machine, under the 30 s ASR timeout; in float32 in about
            38 s, past it, as in production.
        remedy: a name in `asrlab.remedies.REMEDIES`.
        asr_timeout_s, segments_timeout_s: overrides of the remedy's thresholds (None: its own).
        capacity, hold_max_ms, acquire_timeout_ms: the arbiter's (`ArbiterConfig`); every lease
            gets ``hold_max_ms``, the arbiter's default, as in the incident.
        vad_backend: the node's VAD backend.
    """

    model: str = "base"
    compute_type: str = "float32"
    worker_threads: int = 0
    remedy: str = "incident"
    asr_timeout_s: float | None = None
    segments_timeout_s: float | None = None
    hold_max_ms: float = 20_000.0
    acquire_timeout_ms: float = 5_000.0
    capacity: int = 1
    vad_backend: str = "onnx"

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("model", bool(self.model), "must name a model"),
            ("compute_type", bool(self.compute_type), "must name a compute type"),
            ("worker_threads", whole(self.worker_threads, 0), "must be a whole number >= 0"),
            ("remedy", self.remedy in REMEDIES, f"no such remedy; available: {list(REMEDIES)}"),
            ("asr_timeout_s", none_or_positive(self.asr_timeout_s), "must be None or > 0 s"),
            ("segments_timeout_s", none_or_positive(self.segments_timeout_s), "None or > 0 s"),
            ("hold_max_ms", positive(self.hold_max_ms), "must be > 0 ms"),
            (
                "acquire_timeout_ms",
                self.acquire_timeout_ms == 0 or positive(self.acquire_timeout_ms),
                "must be >= 0 ms",
            ),
            ("capacity", whole(self.capacity, 1), "must be a whole number >= 1"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise ConfigError(name, getattr(self, name), why)

    def effective_remedy(self) -> Remedy:
        """The named remedy with the threshold overrides applied (None keeps its own)."""
        overrides: dict[str, Any] = {}
        if self.asr_timeout_s is not None:
            overrides["asr_timeout_s"] = self.asr_timeout_s
        if self.segments_timeout_s is not None:
            overrides["segments_timeout_s"] = self.segments_timeout_s
        return replace(remedy(self.remedy), **overrides)


@contextlib.contextmanager
def service(settings: ServiceSettings) -> Iterator[Node]:
    """``with service(settings) as node:`` a running node; every part is stopped on exit.

    The node runs ``settings.effective_remedy()`` (``node.remedy``). Its VAD backend is warmed
    up before the node is yielded, as production loads its VAD model before jobs arrive. The
    node's ``arbiter`` and ``manager`` are the shared parts (read ``arbiter_events`` after the
    jobs have run).
    """
    chosen = settings.effective_remedy()
    worker_config = WorkerConfig(
        model=settings.model,
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

    with (
        WorkerManager(worker_config) as manager,
        RealtimeArbiter(arbiter_config, on_revoke=revoke) as arbiter,
    ):
        nodes.append(Node(arbiter, manager, chosen, vad_backend=settings.vad_backend))
        yield nodes[0]


def arbiter_events(arbiter: RealtimeArbiter) -> list[dict[str, Any]]:
    """The arbiter's event trace as rows (t_ms, kind, token, holder, detail), under its lock."""
    with arbiter.lock:
        return [asdict(e) for e in arbiter.core.events]


def remedy_columns(chosen: Remedy) -> dict[str, Any]:
    """The remedy as flat ``remedy_*`` columns of a results row (decode options as JSON)."""
    row = {f"remedy_{k}": v for k, v in chosen.row().items()}
    row["remedy_decode"] = json.dumps(row["remedy_decode"])
    return row
