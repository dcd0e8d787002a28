"""The ASR worker process: loads a model once, serves jobs, streams or lists segments.

This is the process side; `asrlab.service.manager` owns the processes. A worker is started with
the *spawn* method (a CUDA context does not survive fork) and talks to its manager over one duplex
pipe: `asrlab.service.message` says what goes each way.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from asrlab.checks import Check, check_fields
from asrlab.decoding.models import DEFAULT_COMPUTE_TYPE
from asrlab.service import policy as policies
from asrlab.service.message import (
    RESULT_MODES,
    Done,
    Failed,
    GuardTimes,
    JobMessage,
    Ready,
    ResultMode,
    SegmentMessage,
    Started,
)
from asrlab.service.policy import (
    INCIDENT_ASR_TIMEOUT_S,
    INCIDENT_SEGMENTS_TIMEOUT_S,
    POLICIES,
    Policy,
)

if TYPE_CHECKING:
    from asrlab.decoding.decoder import TracedModel

_PARENT_POLL_S = 0.5  # how often an orphaned worker notices that its manager is gone


@dataclass(frozen=True)
class WorkerConfig:
    """How the workers are built and how their jobs are timed out.

    Attributes:
        model: model name or folder (see `asrlab.decoding.models.resolve`).
        device, compute_type, cpu_threads: where and how the model runs (0 threads: one per core).
        policy: ``none`` (no timeout), ``legacy_thread`` (the incident's guard inside the worker,
            and the manager's ASR timeout that gives up on the job but leaves the worker running),
            ``hard_kill`` (the manager kills the worker at the deadline and respawns it), or
            ``cooperative`` (the model stops between windows and attempts once the deadline has
            passed, returning what it has; ``hard_kill`` backs it up ``backstop_s`` later).
        asr_timeout_s: seconds from submission to the job's deadline.
        segments_timeout_s: the legacy guard's ``future.result(timeout=...)``.
        backstop_s: seconds past the deadline before a cooperative job is killed anyway.
        result_mode: ``list`` (everything at the end) or ``streaming`` (segments as produced).
        n_workers: worker processes; the manager routes jobs to whichever is free.
        start_timeout_s: limit for a worker to load its model and report ready.

    ``policy`` and ``result_mode`` may be given as their strings (from YAML, a sweep's row); they
    are held as `Policy` and `ResultMode`.
    """

    model: str = "base"
    device: str = "auto"
    compute_type: str = DEFAULT_COMPUTE_TYPE
    cpu_threads: int = 0
    policy: Policy = Policy.HARD_KILL
    asr_timeout_s: float = INCIDENT_ASR_TIMEOUT_S
    segments_timeout_s: float = INCIDENT_SEGMENTS_TIMEOUT_S
    backstop_s: float = 1.0
    result_mode: ResultMode = ResultMode.LIST
    n_workers: int = 1
    start_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        checks: list[Check] = [
            ("policy", self.policy in POLICIES, f"must be one of {POLICIES}"),
            ("result_mode", self.result_mode in RESULT_MODES, f"must be one of {RESULT_MODES}"),
            ("asr_timeout_s", self.asr_timeout_s > 0, "must be > 0"),
            ("segments_timeout_s", self.segments_timeout_s > 0, "must be > 0"),
            ("backstop_s", self.backstop_s >= 0, "must be >= 0"),
            ("n_workers", self.n_workers >= 1, "must be >= 1"),
            ("cpu_threads", self.cpu_threads >= 0, "must be >= 0 (0: one per core)"),
            ("start_timeout_s", self.start_timeout_s > 0, "must be > 0"),
        ]
        check_fields(self, checks)
        object.__setattr__(self, "policy", Policy(self.policy))
        object.__setattr__(self, "result_mode", ResultMode(self.result_mode))


def legacy_guard(segments: Any, segments_timeout_s: float) -> tuple[list[Any], GuardTimes]:
    """The incident's guard, reproduced as asr_worker_process.py wrote it.

    ``future.result(timeout=...)`` does raise at the timeout, but leaving the ``with`` block
    calls ``executor.shutdown(wait=True)``, which waits for the thread still iterating the
    segments, and nothing can stop that thread. By then the decode has finished, so its segments
    are returned as the incident's log shows them arriving. Returns the segments and the guard's
    timings.
    """
    entered, raised = time.monotonic(), None
    segments_list = None
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        future = executor.submit(lambda: list(segments))
        try:
            segments_list = future.result(timeout=segments_timeout_s)
        except concurrent.futures.TimeoutError:
            raised = time.monotonic()  # "... # timeout handling" in the incident's code
    left = time.monotonic()
    if segments_list is None:
        segments_list = future.result()  # done: the executor's exit waited for the thread
    return segments_list, GuardTimes(entered, raised, left)


def _exit_when_orphaned(parent_pid: int) -> None:
    """A worker must not outlive its manager (e.g. a test process killed mid-run)."""
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent_pid:
            os._exit(3)


def serve(conn: Connection, config: WorkerConfig, parent_pid: int) -> None:
    """Entry point of a worker process: load the model, then serve jobs until told to stop."""
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()
    from tqdm import tqdm

    # faster-whisper builds a (disabled) tqdm bar per transcription, and tqdm's default lock is a
    # multiprocessing semaphore: a worker killed by SIGKILL would leak it.
    tqdm.set_lock(threading.RLock())
    from asrlab.decoding.decoder import load_model  # heavy imports happen in the child only

    t0 = time.perf_counter()
    model = load_model(
        config.model,
        device=config.device,
        compute_type=config.compute_type,
        cpu_threads=config.cpu_threads,
    )
    conn.send(Ready(os.getpid(), time.perf_counter() - t0, model.compute_type))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the manager is gone
        if not isinstance(message, JobMessage):  # `asrlab.service.message.STOP`
            return
        _run_job(conn, model, message)


def _run_job(conn: Connection, model: TracedModel, job: JobMessage) -> None:
    from asrlab.decoding.options import DecodeConfig

    job_id = job.job_id
    conn.send(Started(job_id, time.monotonic()))
    try:
        model.deadline = job.deadline if policies.stops_cooperatively(job.policy) else None
        segments = model.start(job.samples, DecodeConfig(**job.decode_fields))
        trace = model.last_trace  # its segments fill in as `segments` is iterated
        assert trace is not None
        guard = None
        if policies.legacy(job.policy):
            _, guard = legacy_guard(segments, job.segments_timeout_s)
        else:
            for _ in segments:
                if job.mode == ResultMode.STREAMING:
                    conn.send(SegmentMessage(job_id, trace.segments[-1], time.monotonic()))
        conn.send(Done(job_id, tuple(trace.segments), trace, guard, time.monotonic()))
    except Exception as e:  # reported to the caller as the job's error, the worker lives on
        conn.send(Failed(job_id, f"{type(e).__name__}: {e}", time.monotonic()))
    finally:
        model.deadline = None
