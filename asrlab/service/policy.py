"""The timeout policies: what happens to a job at its deadline, as one step function.

Pure (no clock, no process). `step` takes a job's state and the time and says what happens next;
the real worker manager (`asrlab.service.manager`, on the wall clock) and the simulator
(`asrlab.sim.core`, on simulated time) both drive it, so the twin of the service cannot drift from
the service it models, and a change of policy is made here alone.

- ``none``: no deadline at all.
- ``legacy_thread``: the incident's code. At the deadline (``ASR_TIMEOUT``) the caller is told
  `AsrTimeout`, and nobody stops the worker: it decodes on, busy, and its result comes late.
- ``hard_kill``: at the deadline the worker process is killed (then respawned).
- ``cooperative``: the decoder checks the deadline between windows and attempts and stops with
  what it has; it cannot stop one long attempt, so ``backstop_s`` later it is killed anyway.

Under every policy with a deadline a job still queued (no worker holds it) at its deadline is
answered `AsrTimeout` there, and a cancelled job (its lease revoked) is dropped if queued, or its
worker killed if running. What the worker itself does under a policy (the legacy guard, the
cooperative checks) is the worker's: `legacy` and `stops_cooperatively` say when.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Policy(enum.StrEnum):
    """A timeout policy (the module docstring says what each does)."""

    NONE = "none"
    LEGACY_THREAD = "legacy_thread"
    HARD_KILL = "hard_kill"
    COOPERATIVE = "cooperative"


POLICIES: tuple[str, ...] = tuple(p.value for p in Policy)

# The incident's values: ASR_TIMEOUT in asr_worker_manager.py, the segments guard's
# future.result(timeout=...) in asr_worker_process.py (docs/incident.md).
INCIDENT_ASR_TIMEOUT_S = 30.0
INCIDENT_SEGMENTS_TIMEOUT_S = 20.0


class Cause(enum.StrEnum):
    """Why a job is answered before its worker did: what the caller is told."""

    TIMEOUT = "timeout"  # `AsrTimeout`: the deadline (or the cooperative backstop) passed
    CANCELLED = "cancelled"  # `JobCancelled`: its lease was revoked


class Where(enum.StrEnum):
    """Where the job was when it was answered (`AsrTimeout.where`)."""

    QUEUED = "queued"  # no worker held it: nothing to stop
    RUNNING = "running"  # a worker was decoding it


@dataclass(frozen=True)
class JobState:
    """What the policy needs to know of one job (instants on the caller's clock, seconds).

    Attributes:
        policy: the timeout policy.
        deadline: the job's due instant, None without one (`deadline`).
        backstop_s: seconds past the deadline before a cooperative job's worker is killed.
        running: a worker holds the job and has not answered it (False: still queued).
        answered: the caller has been answered (under legacy_thread, while the worker runs on).
        cancelled: a cancellation was asked for (`WorkerManager.cancel`: a revoked lease).
    """

    policy: Policy
    deadline: float | None
    backstop_s: float
    running: bool
    answered: bool = False
    cancelled: bool = False


@dataclass(frozen=True)
class Wait:
    """Nothing to do before ``until``; None: no instant is ahead (no deadline, or the worker
    decodes on after the caller was answered): wait for the worker, or a cancellation."""

    until: float | None


@dataclass(frozen=True)
class Answer:
    """Answer the caller now with ``cause``'s error and stop nothing: the job was queued, or
    (legacy_thread) its worker decodes on and its result will come late."""

    cause: Cause
    where: Where


@dataclass(frozen=True)
class Kill:
    """Kill the job's worker now; its caller is answered with ``cause``'s error once the
    process is dead, and a new worker is started."""

    cause: Cause


Action = Wait | Answer | Kill


def deadline(policy: Policy | str, submitted: float, timeout_s: float) -> float | None:
    """The instant a job submitted at ``submitted`` is due (same clock), None without one."""
    return None if policy == Policy.NONE else submitted + timeout_s


def kill_at(policy: Policy | str, due: float | None, backstop_s: float) -> float | None:
    """When the worker holding a job due at ``due`` is killed if it is still decoding.

    None where nobody kills it: no deadline, or the legacy guard, which cannot stop its thread.
    """
    if due is None:
        return None
    if policy == Policy.HARD_KILL:
        return due
    if policy == Policy.COOPERATIVE:
        return due + backstop_s
    return None


def step(state: JobState, now: float) -> Action:
    """What happens next to a job in ``state`` at ``now``.

    Called whenever something may have changed (the instant of the last `Wait`, a message, a
    cancellation); an `Answer` or a `Kill` is applied at once, and `step` is asked again with the
    new state. At one instant a kill at the deadline comes before a cancellation, and a
    cancellation before the legacy timeout: the caller is told what stopped the worker.
    """
    if not state.running:
        return _queued(state, now)
    due = kill_at(state.policy, state.deadline, state.backstop_s)
    if due is not None and now >= due:
        return Kill(Cause.TIMEOUT)
    if state.cancelled:
        return Kill(Cause.CANCELLED)
    if legacy(state.policy) and state.deadline is not None and not state.answered:
        if now >= state.deadline:  # the incident's ASR_TIMEOUT: give up, stop nothing
            return Answer(Cause.TIMEOUT, Where.RUNNING)
        return Wait(state.deadline)
    return Wait(due)


def _queued(state: JobState, now: float) -> Action:
    if state.answered:
        return Wait(None)  # over: expired or cancelled while queued
    if state.cancelled:
        return Answer(Cause.CANCELLED, Where.QUEUED)
    if state.deadline is None:
        return Wait(None)
    if now >= state.deadline:
        return Answer(Cause.TIMEOUT, Where.QUEUED)
    return Wait(state.deadline)


def legacy(policy: Policy | str) -> bool:
    """The incident's code: the worker guards its segments with a thread it cannot stop, and the
    caller is answered `AsrTimeout` at the deadline while the worker decodes on."""
    return policy == Policy.LEGACY_THREAD


def stops_cooperatively(policy: Policy | str) -> bool:
    """The decoder itself is given the deadline and stops between windows and attempts."""
    return policy == Policy.COOPERATIVE
