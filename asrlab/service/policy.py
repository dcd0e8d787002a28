"""The timeout policies as rules: when a job's deadline falls, who is told and who is stopped.

Pure (no clock, no process): the real worker manager (`asrlab.service.manager`), the worker
(`asrlab.service.worker`) and the simulator (`asrlab.sim.core`) ask these functions, so the twin
of the service cannot drift from the service it models.

- ``none``: no deadline at all.
- ``legacy_thread``: the incident's code. At the deadline (``ASR_TIMEOUT``) the caller is told
  `AsrTimeout`, and nobody stops the worker: it decodes on, busy, and its result comes late.
- ``hard_kill``: at the deadline the worker process is killed (then respawned).
- ``cooperative``: the decoder checks the deadline between windows and attempts and stops with
  what it has; it cannot stop one long attempt, so ``backstop_s`` later it is killed anyway.
"""

from __future__ import annotations

from typing import Literal

Policy = Literal["none", "legacy_thread", "hard_kill", "cooperative"]
POLICIES: tuple[str, ...] = ("none", "legacy_thread", "hard_kill", "cooperative")

# The incident's values: ASR_TIMEOUT in asr_worker_manager.py, the segments guard's
# future.result(timeout=...) in asr_worker_process.py (docs/incident.md).
INCIDENT_ASR_TIMEOUT_S = 30.0
INCIDENT_SEGMENTS_TIMEOUT_S = 20.0


def deadline(policy: str, submitted: float, timeout_s: float) -> float | None:
    """The instant a job submitted at ``submitted`` is due (same clock), None without one."""
    return None if policy == "none" else submitted + timeout_s


def kill_at(policy: str, due: float | None, backstop_s: float) -> float | None:
    """When the worker holding a job due at ``due`` is killed if it is still decoding.

    None where nobody kills it: no deadline, or the legacy guard, which cannot stop its thread.
    """
    if due is None:
        return None
    if policy == "hard_kill":
        return due
    if policy == "cooperative":
        return due + backstop_s
    return None


def legacy(policy: str) -> bool:
    """The incident's code: the worker guards its segments with a thread it cannot stop, and the
    caller is answered `AsrTimeout` at the deadline while the worker decodes on."""
    return policy == "legacy_thread"


def stops_cooperatively(policy: str) -> bool:
    """The decoder itself is given the deadline and stops between windows and attempts."""
    return policy == "cooperative"
