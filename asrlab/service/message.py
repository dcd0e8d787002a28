"""What the manager sends a worker process: one job, as one picklable record.

A worker answers over the same pipe with tuples whose first item is their kind and whose second
is the job id (``time.monotonic()`` instants ``t``: one clock for all processes on a Linux host):

- ``("ready", pid, load_s)`` once the model is loaded;
- ``("started", job_id, t)`` when a job's decode begins;
- ``("segment", job_id, segment, t)`` per segment, in streaming mode;
- ``("done", job_id, payload, t)`` with the segments, the trace and, for the legacy guard, its
  timings; ``("error", job_id, text, t)`` when the decode raised.

Every answer carries its job id, so a result that arrives after its job was given up can be
recognised and dropped instead of being handed to the next job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobMessage:
    """One job for a worker.

    Attributes:
        job_id: the job; every answer about it carries it.
        samples: float32 mono 16 kHz audio (`asrlab.audio.samples`).
        decode_fields: the `DecodeConfig` as ``asdict`` (plain data across the pipe).
        deadline: the job's due instant (``time.monotonic()``), None without one.
        policy: the timeout policy (`asrlab.service.policy.POLICIES`).
        segments_timeout_s: the legacy guard's ``future.result(timeout=...)``.
        mode: ``list`` (segments at the end) or ``streaming`` (each as it is decoded).
    """

    job_id: str
    samples: Any
    decode_fields: dict[str, Any]
    deadline: float | None
    policy: str
    segments_timeout_s: float
    mode: str


STOP = ("stop",)  # tells a worker to exit once its current job (if any) is answered
