"""How the service is built, as data: what the replay and a workload share.

`ServiceSettings` is pure (no worker, no VAD, no decoder is loaded to name one), so the simulator
takes the same fields as the real service; `asrlab.service.build` turns it into a running node.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from asrlab.checks import Check, check_fields, none_or_positive, positive, whole
from asrlab.decoding.models import SERVICE_COMPUTE_TYPE
from asrlab.service.arbiter import INCIDENT_ACQUIRE_TIMEOUT_MS, INCIDENT_HOLD_MAX_MS
from asrlab.service.remedies import REMEDIES, Remedy, remedy
from asrlab.service.usage import USAGE_SOURCES


@dataclass(frozen=True)
class ServiceSettings:
    """How the service is built: what the replay and a workload share (both subclass this).

    Attributes:
        model, compute_type, worker_threads: the worker's model and how it runs (0 threads: one
            per core). float32 is the CPU's closest analogue of production's float16 on GPU,
            and slower than int8 ("auto" on CPU): in int8 the replay's job A decodes in about
            25 s on the 2-core lab machine, under the 30 s ASR timeout; in float32 in about
            38 s, past it, as in production.
        remedy: a name in `asrlab.service.remedies.REMEDIES`.
        asr_timeout_s, segments_timeout_s: overrides of the remedy's thresholds (None: its own).
        capacity, hold_max_ms, acquire_timeout_ms: the arbiter's (`ArbiterConfig`); every lease
            gets ``hold_max_ms``, the arbiter's default, as in the incident.
        vad_backend: the node's VAD backend.
        usage: what the arbiter samples for GPU_USAGE_HIGH (`asrlab.service.usage.sampler_for`):
            ``off`` (the default: the replay's refusals come from the overdue lease, as the
            incident's did), ``auto`` (NVML or torch CUDA on a GPU, the workers' CPU otherwise),
            ``nvml``, ``torch``, ``cpu``, or ``scripted:v1,v2,...``.
    """

    model: str = "base"
    compute_type: str = SERVICE_COMPUTE_TYPE
    worker_threads: int = 0
    remedy: str = "incident"
    asr_timeout_s: float | None = None
    segments_timeout_s: float | None = None
    hold_max_ms: float = INCIDENT_HOLD_MAX_MS
    acquire_timeout_ms: float = INCIDENT_ACQUIRE_TIMEOUT_MS
    capacity: int = 1
    vad_backend: str = "onnx"
    usage: str = "off"

    def __post_init__(self) -> None:
        checks: list[Check] = [
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
            (
                "usage",
                self.usage in USAGE_SOURCES or self.usage.startswith("scripted:"),
                f"must be one of {USAGE_SOURCES} or scripted:v1,v2,...",
            ),
        ]
        check_fields(self, checks)

    def effective_remedy(self) -> Remedy:
        """The named remedy with the threshold overrides applied (None keeps its own)."""
        overrides: dict[str, Any] = {}
        if self.asr_timeout_s is not None:
            overrides["asr_timeout_s"] = self.asr_timeout_s
        if self.segments_timeout_s is not None:
            overrides["segments_timeout_s"] = self.segments_timeout_s
        return replace(remedy(self.remedy), **overrides)


def remedy_columns(chosen: Remedy) -> dict[str, Any]:
    """The remedy as flat ``remedy_*`` columns of a results row (decode options as JSON)."""
    row = {f"remedy_{k}": v for k, v in chosen.row().items()}
    row["remedy_decode"] = json.dumps(row["remedy_decode"])
    return row
