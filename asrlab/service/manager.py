"""The worker manager: owns worker processes, routes jobs, enforces each timeout policy.

`WorkerManager` is a context manager; leaving it (normally or on an exception) stops every
worker, and a worker whose manager dies exits on its own (`asrlab.service.worker`). One thread per
worker ("slot") takes the next job from a shared queue, sends it, and watches the pipe and the
clock. What happens at the deadline is `asrlab.service.policy.step`'s answer, which the slot asks
whenever the clock reaches the instant it gave or a message arrives (the simulator steps the same
function on simulated time):

- ``hard_kill``: at the deadline the worker gets SIGKILL; once it is confirmed dead the caller
  gets `AsrTimeout` and a new worker is started (its start time is recorded as ``respawn_s``).
- ``cooperative``: the worker stops itself between windows and attempts once the deadline has
  passed and returns what it decoded; ``backstop_s`` later it is killed as under ``hard_kill``.
- ``legacy_thread``: the incident. At the deadline (``ASR_TIMEOUT``) the caller gets
  `AsrTimeout`, but the worker keeps decoding; its result arrives late and is dropped.
- ``none``: no deadline.

A message whose job id is not the slot's current job is dropped and counted (``late_results``);
no job ever receives another job's text.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from asrlab.decoding.options import DecodeConfig
from asrlab.errors import AsrlabError, JobFailed, WorkerCrashed
from asrlab.service import policy
from asrlab.service.jobs import JobHandle, JobMetrics, JobResult
from asrlab.service.message import (
    STOP,
    Done,
    Failed,
    JobMessage,
    Ready,
    SegmentMessage,
    Started,
    WorkerAnswer,
)
from asrlab.service.policy import Answer, Cause, Kill, Wait, Where
from asrlab.service.worker import WorkerConfig, serve

_SPAWN_TRIES = 3  # a worker killed while loading is started again this many times
_JOIN_S = 5.0
# A running job's slot re-checks for a cancellation at least this often (deadlines are exact).
_CANCEL_POLL_S = 0.05


@dataclass
class _Worker:
    process: Any
    conn: Any
    ready: Ready
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int:
        return self.ready.pid

    def close_conn(self) -> None:
        """Close the pipe once, whichever thread (slot or close()) gets here first."""
        with self._lock:
            if not self.conn.closed:
                self.conn.close()


class _Crashed(Exception):
    """The slot's worker died, or its pipe was closed (by `close`), while it held a job."""


class WorkerManager:
    """Owns ``config.n_workers`` worker processes and runs jobs on them.

    Use as ``with WorkerManager(config) as manager: manager.run(samples, decode)``.
    """

    def __init__(self, config: WorkerConfig | None = None) -> None:
        self.config = config or WorkerConfig()
        self._ctx = multiprocessing.get_context("spawn")
        self._queue: queue.Queue[JobHandle | None] = queue.Queue()
        self._workers: list[_Worker | None] = [None] * self.config.n_workers
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count(1)
        self._closing = False
        self._lifecycle = threading.Lock()  # orders close() against a worker being registered
        self._stats_lock = threading.Lock()
        self.late_results = 0
        self.respawns = 0
        self.crashes = 0
        self.history: list[JobMetrics] = []
        self.spawned_pids: list[int] = []  # every worker ever started, for leak checks

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> WorkerManager:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start every worker (in parallel) and wait until each has loaded its model."""
        starters = [
            threading.Thread(target=self._start_slot, args=(i,)) for i in range(len(self._workers))
        ]
        for t in starters:
            t.start()
        for t in starters:
            t.join()
        if any(w is None for w in self._workers):
            self.close()
            raise AsrlabError("a worker could not be started; see the log above")
        for i in range(len(self._workers)):
            thread = threading.Thread(target=self._slot_loop, args=(i,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Fail queued jobs, stop and reap every worker; leaves no child process behind."""
        with self._lifecycle:
            self._closing = True
            workers = [w for w in self._workers if w is not None]
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending is not None and pending.claim():
                pending.finish(AsrlabError(f"job {pending.job_id}: the manager was closed"))
        for _ in self._threads:
            self._queue.put(None)
        for worker in workers:
            self._stop_worker(worker)
        for thread in self._threads:
            thread.join(timeout=_JOIN_S)
        self._threads.clear()

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self._workers if w is not None]

    @property
    def queue_depth(self) -> int:
        """Jobs submitted that no worker holds yet (a server's /metrics reports it)."""
        return self._queue.qsize()

    # --- jobs -----------------------------------------------------------------------------
    def submit(
        self,
        samples: np.ndarray,
        decode: DecodeConfig,
        *,
        job_id: str | None = None,
        timeout_s: float | None = None,
    ) -> JobHandle:
        """Queue a job; its deadline is ``timeout_s`` (default ``asr_timeout_s``) from now (0: a
        caller whose own deadline has passed: the job is answered `AsrTimeout`, never run)."""
        if self._closing or not self._threads:
            raise AsrlabError("the manager is not running: use it as a context manager")
        now = time.monotonic()
        cfg = self.config
        limit_s = cfg.asr_timeout_s if timeout_s is None else timeout_s
        due = policy.deadline(cfg.policy, now, limit_s)
        timeout = None if due is None else limit_s
        metrics = JobMetrics(
            job_id=job_id or f"job-{next(self._ids)}",
            policy=cfg.policy,
            mode=cfg.result_mode,
            timeout_s=timeout,
            submitted=now,
        )
        handle = JobHandle(
            job_id=metrics.job_id,
            samples=samples,
            decode=decode,
            deadline=due,
            metrics=metrics,
            backstop_s=cfg.backstop_s,
        )
        with self._stats_lock:
            self.history.append(metrics)
        self._queue.put(handle)
        return handle

    def cancel(self, handle: JobHandle, reason: str) -> None:
        """Stop a job: a queued one fails at once, a running one has its worker killed (by its
        slot, at its next step).

        The caller gets `JobCancelled`; used when a lease is revoked (docs/design.md, the arbiter).
        """
        handle.request_cancel(reason)
        if handle.claim():  # still queued: no worker holds it
            self._queued_step(handle)

    def run(self, samples: np.ndarray, decode: DecodeConfig, **kwargs: Any) -> JobResult:
        """Submit a job and wait for its result."""
        return self.submit(samples, decode, **kwargs).result()

    # --- the slot threads -----------------------------------------------------------------
    def _slot_loop(self, index: int) -> None:
        while True:
            handle = self._queue.get()
            if handle is None or self._closing:
                return
            if not handle.claim():
                continue  # expired or cancelled while queued
            if self._queued_step(handle):
                self._drive(index, handle)

    def _queued_step(self, handle: JobHandle) -> bool:
        """Step the policy for a claimed job that no worker holds yet: answer it if its deadline
        passed or it was cancelled; True if it is to be run."""
        now = time.monotonic()
        action = policy.step(handle.state(running=False), now)
        if isinstance(action, Answer):
            handle.finish(handle.error(action.cause, action.where, now))
            return False
        return True

    def _drive(self, index: int, handle: JobHandle) -> None:
        """Run one job on slot ``index`` to its end, doing what the policy's step says."""
        worker = self._live_worker(index)
        if worker is None:
            handle.finish(WorkerCrashed(handle.job_id, None, None))
            return
        try:
            sent = self._send(worker, handle)
            while True:
                now = time.monotonic()
                match policy.step(handle.state(running=True), now):
                    case Kill(cause=cause):
                        self._kill(index, worker, handle, cause)
                        return
                    case Answer(cause=cause, where=where):  # legacy: the worker decodes on
                        handle.finish(handle.error(cause, where, now))
                    case Wait(until=until):
                        answer = self._receive(worker, until, now)
                        if answer is not None and self._on_answer(handle, answer, sent):
                            return
        except _Crashed:
            self._crashed(index, worker, handle)

    def _send(self, worker: _Worker, handle: JobHandle) -> float:
        """Send the job to ``worker``; the instant it was sent."""
        cfg, m = self.config, handle.metrics
        sent = time.monotonic()
        m.queue_wait_s, m.worker_pid = sent - m.submitted, worker.pid
        message = JobMessage(
            job_id=handle.job_id,
            samples=handle.samples,
            decode_fields=asdict(handle.decode),
            deadline=handle.deadline,
            policy=cfg.policy,
            segments_timeout_s=cfg.segments_timeout_s,
            mode=cfg.result_mode,
        )
        try:
            worker.conn.send(message)
        except (OSError, ValueError) as e:
            raise _Crashed from e
        return sent

    def _receive(self, worker: _Worker, until: float | None, now: float) -> WorkerAnswer | None:
        """The worker's next answer, or None if there was none by ``until`` or the next look
        for a cancellation (whichever is sooner)."""
        wait_s = _CANCEL_POLL_S if until is None else min(max(0.0, until - now), _CANCEL_POLL_S)
        try:
            if not worker.conn.poll(wait_s):
                return None
            answer: WorkerAnswer = worker.conn.recv()
        except (EOFError, OSError) as e:  # the worker died, or close() closed the pipe
            raise _Crashed from e
        return answer

    def _on_answer(self, handle: JobHandle, answer: WorkerAnswer, sent: float) -> bool:
        """Apply one answer from the worker; True when the job is over for this slot."""
        if answer.job_id != handle.job_id:
            self._count_late()  # about a job given up earlier: never handed to this one
            return False
        match answer:
            case Started(t=t):
                handle.started(t, sent)
            case SegmentMessage(segment=segment):
                handle.segment(segment, time.monotonic())
            case Done():
                self._on_done(handle, answer)
                return True
            case Failed(error=error):
                self._worked_after_deadline(handle, time.monotonic())
                handle.metrics.status = "failed"
                if not handle.finish(JobFailed(handle.job_id, error)):
                    self._late(handle.metrics)
                return True
        return False

    def _on_done(self, handle: JobHandle, done: Done) -> None:
        m, now = handle.metrics, time.monotonic()
        self._worked_after_deadline(handle, now)
        if done.guard is not None:
            handle.guarded(done.guard)
        if m.first_segment_s is None and done.segments:
            m.first_segment_s = now - m.submitted
        result = JobResult(handle.job_id, done.segments, done.trace, m)
        if handle.finish(result):
            m.status = "partial" if result.partial else "ok"
        else:
            handle.late = result
            self._late(m)

    @staticmethod
    def _worked_after_deadline(handle: JobHandle, now: float) -> None:
        if handle.deadline is not None and now > handle.deadline:
            handle.metrics.work_after_deadline_s = now - handle.deadline

    def _late(self, m: JobMetrics) -> None:
        m.late_result = True
        self._count_late()

    def _count_late(self) -> None:
        with self._stats_lock:
            self.late_results += 1

    def _kill(self, index: int, worker: _Worker, handle: JobHandle, cause: Cause) -> None:
        """SIGKILL the job's worker, answer the caller once it is dead, start a new worker."""
        worker.process.kill()
        worker.process.join(timeout=_JOIN_S)
        now = time.monotonic()
        m = handle.metrics
        m.killed = True
        if handle.deadline is not None:
            m.work_after_deadline_s = max(0.0, now - handle.deadline)
        handle.finish(handle.error(cause, Where.RUNNING, now))  # told only once it is dead
        m.respawn_s = self._respawn(index, worker)

    def _crashed(self, index: int, worker: _Worker, handle: JobHandle) -> None:
        worker.process.join(timeout=_JOIN_S)
        with self._stats_lock:
            self.crashes += 1
        handle.metrics.status = "crashed"
        handle.finish(WorkerCrashed(handle.job_id, worker.pid, worker.process.exitcode))
        handle.metrics.respawn_s = self._respawn(index, worker)

    # --- worker processes -----------------------------------------------------------------
    def _respawn(self, index: int, dead: _Worker) -> float | None:
        dead.close_conn()
        self._workers[index] = None
        if self._closing:
            return None
        t0 = time.monotonic()
        self._start_slot(index)
        with self._stats_lock:
            self.respawns += 1
        return time.monotonic() - t0

    def _live_worker(self, index: int) -> _Worker | None:
        """The slot's worker, (re)started first if it died while idle or could not start."""
        worker = self._workers[index]
        if worker is not None and worker.process.is_alive():
            return worker
        if worker is not None:
            worker.process.join(timeout=_JOIN_S)
            with self._stats_lock:
                self.crashes += 1
            self._respawn(index, worker)
        elif not self._closing:
            self._start_slot(index)
        return self._workers[index]

    def _start_slot(self, index: int) -> None:
        for _ in range(_SPAWN_TRIES):
            if self._closing:
                return
            worker = self._spawn()
            if worker is not None:
                with self._lifecycle:
                    registered = not self._closing
                    if registered:
                        self._workers[index] = worker
                if not registered:  # close() ran while this worker was loading
                    self._stop_worker(worker)
                return

    def _spawn(self) -> _Worker | None:
        parent_conn, child_conn = self._ctx.Pipe()
        process = self._ctx.Process(
            target=serve,
            args=(child_conn, self.config, os.getpid()),
            daemon=True,
            name="asrlab-worker",
        )
        process.start()
        assert process.pid is not None  # set by start()
        self.spawned_pids.append(process.pid)
        child_conn.close()  # so that the worker's death reads as EOF here
        give_up = time.monotonic() + self.config.start_timeout_s
        try:
            # Short polls, so that close() never waits for a model load to finish.
            while not self._closing and time.monotonic() < give_up:
                if parent_conn.poll(0.1):
                    ready: Ready = parent_conn.recv()
                    return _Worker(process, parent_conn, ready)
        except (EOFError, OSError):
            pass  # died while loading (killed, or the model failed): tried again by the caller
        process.kill()
        process.join(timeout=_JOIN_S)
        parent_conn.close()
        return None

    def _stop_worker(self, worker: _Worker) -> None:
        try:
            worker.conn.send(STOP)
        except (OSError, ValueError):
            pass
        worker.process.join(timeout=1.0)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=_JOIN_S)
        worker.close_conn()
