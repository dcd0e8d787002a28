"""A discrete-event twin of the service (SimPy), trusted only as far as it matches real runs.

It answers what no 2-core machine can by brute force ("how many devices keep p99 under 3 s at
600 jobs/min?"). It models what `asrlab.workload` runs for real, part for part:

- the same seeded plan (`workload.traffic.plan`): the same arrival instants and the same mix draws;
- ``clients`` callers taking jobs in arrival order, each job sent to the device with the
  fewest jobs in flight (one device: the real node);
- per device, VAD on the node, the VAD gate, then a lease from THE arbiter of the real service:
  `asrlab.service.arbiter.LeaseArbiter` itself, driven on simulated milliseconds (acquire timeout,
  queue order, overdue state, revocation, deadline-aware refusal all come from it), with the
  waiters re-polling it whenever it changes, as `RealtimeArbiter`'s condition variable does;
- one worker per device with the timeout policies of `asrlab.service`: legacy_thread (the
  caller gives up at the deadline, the worker decodes on and stays busy), hard_kill (killed at
  the deadline, then respawned: the respawn seconds were measured), cooperative (stops at the
  first deadline check past the deadline, from the decode's measured stop points, or is killed
  ``backstop_s`` later), none; a job still queued at its deadline fails there. A decode after
  one that sampled first waits for the worker's model to be rebuilt (`asrlab.decoding`'s
  reseed, measured like the respawn).

Service times are never invented: each job's VAD and worker seconds are resampled from a table
of measured jobs (`asrlab.sim`). Each job ends as a `JobRow`, the record a real workload's node
makes, so `asrlab.workload.attribution.summarize` prints the same summary for both.

`simulate` keeps every row and event (`SimResult`); `simulate_summary` keeps none, streaming each
job's row into a tally and, if asked, a parquet file (`asrlab.sim.results`), so that a week of
traffic fits the machine: memory holds a few numbers per job, not its row.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import simpy
from tqdm import tqdm

from asrlab.checks import Check, check_fields, positive, whole
from asrlab.errors import AsrlabError, AsrTimeout, ConfigError, JobCancelled, LeaseRejected
from asrlab.service import policy as policies
from asrlab.service import rows as jobrows
from asrlab.service.arbiter import (
    OVERDUE_REASON,
    ArbiterConfig,
    ArbiterPolicy,
    Lease,
    LeaseArbiter,
    timeout_reason,
)
from asrlab.service.policy import Answer, Cause, JobState, Kill, Wait, Where
from asrlab.service.remedies import Remedy
from asrlab.service.rows import JobRow
from asrlab.sim import costs
from asrlab.sim import jobs as joblist
from asrlab.sim.results import Attributor, Collector, RowsWriter, Tally
from asrlab.sim.slots import Slots
from asrlab.workload.attribution import summarize
from asrlab.workload.traffic import PlannedJob, WorkloadConfig

_EPS_MS = 1e-6  # float slack when comparing simulated instants in ms
# A SimPy process: yields events and is sent their values (`env.process` takes a generator).
_Process = Generator[simpy.Event, Any, None]


@dataclass(frozen=True)
class SimConfig(WorkloadConfig):
    """A workload (`WorkloadConfig`: service and traffic) on ``devices`` devices.

    Attributes:
        devices: devices, each with its own arbiter (``capacity`` leases) and one worker.
        backstop_s: a cooperative job is killed this long past its deadline
            (`asrlab.service.worker.WorkerConfig.backstop_s`).
        draw_seed: None draws the jobs' costs from ``seed``; a number draws them anew for the
            same arrivals and mix (replications of one workload).
    """

    devices: int = 1
    backstop_s: float = 1.0
    draw_seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        checks: list[Check] = [
            ("devices", whole(self.devices, 1), "must be a whole number >= 1"),
            ("backstop_s", self.backstop_s == 0 or positive(self.backstop_s), "must be >= 0 s"),
            ("draw_seed", self.draw_seed is None or whole(self.draw_seed, 0), "None or >= 0"),
        ]
        check_fields(self, checks)

    @classmethod
    def of(cls, workload: WorkloadConfig, **changes: Any) -> SimConfig:
        """The simulation of a real workload's config (same fields), with ``changes``."""
        fields = {k: getattr(workload, k) for k in workload.__dataclass_fields__}
        return cls(**(fields | changes))


@dataclass(slots=True)
class _Draft:
    """The `JobRow` fields a job's simulation writes as it goes; `Simulation._close` freezes them
    into its row. None: the job never got that far (no lease, no worker)."""

    status: str = "ok"
    client_error: str | None = None
    error_type: str | None = None
    lease_token: int | None = None
    lease_wait_s: float | None = None
    lease_hold_max_s: float | None = None
    lease_held_s: float | None = None
    worker_late_result: bool | None = None
    worker_work_after_deadline_s: float | None = None
    worker_killed: bool | None = None
    worker_respawn_s: float | None = None
    worker_status: str | None = None
    decode_rebuild_s: float | None = None
    total_s: float = math.nan
    client_wait_s: float = math.nan
    latency_s: float = math.nan


@dataclass(slots=True)
class _Job:
    """One job's state while it is simulated (ends as a results row, and is dropped)."""

    plan: PlannedJob
    vad_s: float
    speech: bool
    service_s: float
    stops_s: tuple[float, ...]
    sampled: bool  # its decode sampled: the worker rebuilds its model before the next one
    device: int = -1
    received: float = math.nan
    deadline: float = math.nan
    started_work: float | None = None  # when the worker began it
    rebuild_s: float = 0.0  # the worker rebuilt its model first (an earlier job sampled)
    given_up: bool = False  # its caller was answered at the deadline while the worker ran on
    cancel: simpy.Event | None = None  # triggered by a revocation of its lease
    row: _Draft = field(default_factory=_Draft)
    # Who still writes its row: its caller, and a worker decoding on after the caller gave up
    # (legacy: it records the late result when it ends). At 0 the row is final.
    open: int = 1


class _Device:
    """One device: the real arbiter core on simulated time, and one worker."""

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        config: ArbiterConfig,
        events: list[dict[str, Any]] | None,
    ) -> None:
        self.env, self.index = env, index
        self.core = LeaseArbiter(config)
        self.attributor = Attributor(index, self.core.events, events)
        self.worker = Slots(env, capacity=1)
        self.changed = env.event()  # succeeds (and is replaced) whenever the arbiter changes
        self.holders: dict[int, _Job] = {}  # lease token -> job, for revocation
        self._tick_ms: float | None = None  # the due the ticker is armed for
        self.stale_model = False  # the worker's last decode sampled: it rebuilds before the next

    def now_ms(self) -> float:
        return self.env.now * 1000.0

    def notify(self) -> None:
        # Nobody waiting means nothing to wake: skipping the event keeps 100,000 jobs fast.
        if self.changed.callbacks:
            old, self.changed = self.changed, self.env.event()
            old.succeed()

    def revoke_overdue(self) -> bool:
        """`LeaseArbiter.tick` now; a revoked lease's job is cancelled (`Node.revoke`)."""
        revoked = self.core.tick(self.now_ms())
        for lease in revoked:
            job = self.holders.get(lease.token)
            if job is not None and job.cancel is not None and not job.cancel.triggered:
                job.cancel.succeed(f"lease {lease.token} revoked: {OVERDUE_REASON}")
        return bool(revoked)

    def tick_at(self, due_ms: float) -> None:
        """A lease was granted: make sure the ticker wakes for its due (`RealtimeArbiter`)."""
        if self._tick_ms is None or due_ms < self._tick_ms:
            self._arm(due_ms)

    def _arm(self, due_ms: float) -> None:
        # The real ticker wakes 1 ms past the earliest due still ahead.
        self._tick_ms = due_ms
        delay_s = max(0.0, (due_ms + 1.0) / 1000.0 - self.env.now)
        self.env.timeout(delay_s).callbacks.append(lambda _: self._ticked(due_ms))

    def _ticked(self, due_ms: float) -> None:
        if due_ms != self._tick_ms:
            return  # an earlier due was armed since; that wake re-arms for this one
        self._tick_ms = None
        now = self.now_ms()
        if self.core.overdue(now):  # a lease released before its due changes nothing
            self.revoke_overdue()
            self.notify()  # the state changed (GPU_USAGE_HIGH): the waiters look again
        due = min((x.due_ms for x in self.core.live if x.due_ms >= now), default=None)
        if due is not None:
            self._arm(due)


@dataclass(frozen=True)
class SimResult:
    """A simulation's outcome, shaped like `workload.real.WorkloadResult` (rows and events)."""

    config: SimConfig
    jobs: tuple[JobRow, ...]  # one row per job, in job order
    events: tuple[dict[str, Any], ...]
    settings: Mapping[str, Any]  # the same on every row: the ``workload_*`` columns

    def frame(self) -> pd.DataFrame:
        """The rows as a real workload's table (`asrlab.service.rows.frame`), made afresh."""
        return jobrows.frame(self.jobs, self.settings)

    def summary(self) -> dict[str, Any]:
        """`workload.attribution.summarize` of the rows: the same line a real workload prints."""
        return summarize(self.frame())


@dataclass(frozen=True)
class SimSummary:
    """A simulation's outcome without its rows (`simulate_summary`): the summary line, and the
    parquet file the rows were written to, if any."""

    config: SimConfig
    line: dict[str, Any]
    rows_path: Path | None = None

    def summary(self) -> dict[str, Any]:
        """The line `SimResult.summary` gives for the same run (a copy)."""
        return dict(self.line)


class Simulation:
    """One run of the model; use `simulate` or `simulate_summary`.

    ``keep`` keeps every row and event (`run` returns them); without it `run_summary` streams
    them (memory: a few numbers per job).
    """

    def __init__(
        self,
        config: SimConfig,
        table: pd.DataFrame,
        jobs: Sequence[PlannedJob] | None = None,
        *,
        keep: bool = True,
    ) -> None:
        self.config = config
        self.remedy: Remedy = config.effective_remedy()
        self.env = simpy.Environment()
        arbiter = ArbiterConfig(
            capacity=config.capacity,
            default_hold_max_ms=config.hold_max_ms,
            acquire_timeout_ms=config.acquire_timeout_ms,
            policy=self.remedy.arbiter_policy,
        )
        # A kept run's events, per device: `SimResult.events` lists device 0's, then 1's, ...
        self._events: list[list[dict[str, Any]]] | None = None
        if keep:
            self._events = [[] for _ in range(config.devices)]
        self.devices = [
            _Device(self.env, i, arbiter, None if self._events is None else self._events[i])
            for i in range(config.devices)
        ]
        self._in_flight = [0] * config.devices  # jobs per device, for the least loaded
        self.clients = Slots(self.env, capacity=config.clients)
        self.sampler = costs.Sampler(
            table,
            model=config.model,
            compute_type=config.compute_type,
            decode_hash=self.remedy.decode.config_hash(),
            gate=self.remedy.vad_gate,
        )
        # Streams apart from the plan's three (`workload.traffic.plan`): the same arrivals and mix.
        streams = np.random.SeedSequence(config.seed).spawn(5)[3:]
        if config.draw_seed is not None:
            streams = np.random.SeedSequence([config.seed, config.draw_seed]).spawn(2)
        draws_rng, self.respawn_rng = (np.random.default_rng(s) for s in streams)
        self.jobs = joblist.planned(config) if jobs is None else joblist.from_planned(jobs)
        self.costs = joblist.draw(self.jobs, self.sampler, draws_rng)
        self.done = 0
        self.settings = config.row()  # the same on every row: ``workload_*`` columns
        self._sinks: list[Collector | Tally | RowsWriter] = []

    def run(self, *, progress: bool = True) -> SimResult:
        """Simulate, keeping every row and event (a `Simulation` made with ``keep``)."""
        if self._events is None:
            raise ConfigError("keep", False, "a run that keeps nothing has no rows: run_summary")
        kept = Collector(len(self.jobs), self.settings)
        self._run([kept], progress)
        events = tuple(e for mine in self._events for e in mine)
        return SimResult(self.config, kept.rows(), events, kept.settings)

    def run_summary(
        self, *, rows_path: Path | str | None = None, progress: bool = True
    ) -> SimSummary:
        """Simulate, keeping a tally and no rows; each row to ``rows_path`` (parquet) if given."""
        tally = Tally(len(self.jobs), self.remedy.name)
        if rows_path is None:
            self._run([tally], progress)
            return SimSummary(self.config, tally.summary())
        writer = RowsWriter(rows_path, self.settings)
        try:
            self._run([tally, writer], progress)
        finally:
            path = writer.close()  # what was written stays readable, whatever happened
        return SimSummary(self.config, tally.summary(), path)

    def _run(self, sinks: list[Collector | Tally | RowsWriter], progress: bool) -> None:
        self._sinks = sinks
        env = self.env
        env.process(self._arrivals())
        n = len(self.jobs)
        step = max(1, n // 100)
        arrivals = self.jobs.arrival_s
        with tqdm(total=n, unit="job", desc="simulate", disable=not progress) as bar:
            for i in range(step, n, step):  # run in slices up to an arrival: a live progress bar
                env.run(until=max(env.now, float(arrivals[i])) + 1e-9)
                bar.update(self.done - bar.n)
            env.run()
            bar.update(self.done - bar.n)

    # --- processes ------------------------------------------------------------------------

    def _arrivals(self) -> _Process:
        env = self.env
        # A job's objects are made as it arrives and dropped once its row is final.
        for planned_and_drawn in self.costs.each(self.jobs, self.sampler):  # _Job's first six
            delay = planned_and_drawn[0].arrival_s - env.now
            if delay > 0:
                yield env.timeout(delay)
            env.process(self._job(_Job(*planned_and_drawn)))

    def _job(self, job: _Job) -> _Process:
        env = self.env
        yield self.clients.request()
        try:
            job.received = env.now
            job.deadline = env.now + self.remedy.asr_timeout_s
            # The least loaded device, the first of equals (min's rule, without a call per device)
            loads = self._in_flight
            job.device = loads.index(min(loads))
            device = self.devices[job.device]
            loads[job.device] += 1
            row = job.row
            try:
                yield env.timeout(job.vad_s)
                if self.remedy.vad_gate and not job.speech:
                    pass  # "no speech: not decoded": answered after VAD
                else:
                    yield from self._lease_and_transcribe(device, job)
            except AsrlabError as e:
                row.status, row.client_error, row.error_type = "failed", str(e), type(e).__name__
            finally:
                loads[job.device] -= 1
            answered = env.now - job.received
            wait = job.received - job.plan.arrival_s
            row.total_s, row.client_wait_s, row.latency_s = answered, wait, wait + answered
            self.done += 1
            self._close(job)
        finally:
            self.clients.release()

    def _lease_and_transcribe(self, device: _Device, job: _Job) -> _Process:
        env = self.env
        asked = env.now
        try:
            lease = yield from self._acquire(device, job)
        except LeaseRejected:
            job.row.lease_wait_s = env.now - asked
            raise
        granted = env.now
        row = job.row
        row.lease_token, row.lease_wait_s = lease.token, granted - asked
        row.lease_hold_max_s = lease.hold_max_ms / 1000.0
        device.attributor.granted(job.plan.job_id, row.lease_hold_max_s)
        device.holders[lease.token] = job
        job.cancel = env.event()
        try:
            yield from self._transcribe(device, job)
        finally:
            row.lease_held_s = env.now - granted
            device.holders.pop(lease.token, None)
            device.core.release(lease.token, device.now_ms())
            device.notify()

    def _acquire(self, device: _Device, job: _Job) -> Generator[simpy.Event, Any, Lease]:
        """`RealtimeArbiter.acquire` on simulated time; returns the lease or raises."""
        env, core = self.env, device.core
        start = now = device.now_ms()
        if device.revoke_overdue():
            device.notify()
        decision = core.request(job.plan.job_id, now, deadline_ms=job.deadline * 1000.0)
        give_up = start + core.config.acquire_timeout_ms
        while decision.status == "wait" and decision.ticket is not None:
            if now >= give_up - _EPS_MS:
                core.cancel(decision.ticket, now)
                device.notify()  # the head of the queue may have changed
                state = core.state(now)
                raise LeaseRejected(timeout_reason(state), state.value, now - start)
            yield device.changed | env.timeout((give_up - now) / 1000.0)
            now = device.now_ms()
            if device.revoke_overdue():  # notify only on a change: waiters wake each other
                device.notify()
            decision = core.poll(decision.ticket, now)
        if decision.lease is None:
            state = core.state(now)
            raise LeaseRejected(decision.reason or state.value, state.value, now - start)
        device.notify()  # the next waiter may now head the queue
        device.tick_at(decision.lease.due_ms)
        return decision.lease

    def _transcribe(self, device: _Device, job: _Job) -> _Process:
        """Submit to the device's worker; what happens at the deadline is the policy's step
        (`asrlab.service.policy.step`, as the real manager steps it), asked at each instant it
        names and when the job is revoked.

        The worker is not a process of its own (two fewer events a job): a legacy worker that
        decodes on after its caller gave up finishes in a callback, and so does a killed
        worker's respawn, both holding the device's worker slot until then.
        """
        env, policy, row = self.env, self.remedy.policy, job.row
        submitted = env.now
        timeout_s = max(0.0, job.deadline - submitted)
        deadline = policies.deadline(policy, submitted, timeout_s)
        row.worker_late_result, row.worker_work_after_deadline_s = False, 0.0
        row.worker_killed, row.worker_respawn_s = False, None
        assert job.cancel is not None
        # Only a revoked lease cancels a job: under any other arbiter policy nothing is awaited.
        revocable = self.remedy.arbiter_policy == ArbiterPolicy.REVOKE_OVERDUE
        queued = JobState(policy, deadline, self.config.backstop_s, running=False)
        action = policies.step(queued, env.now)
        slot = device.worker.take()
        if slot is None and isinstance(action, Answer):  # past its deadline on the way here
            device.worker.release()  # never started, as the manager's slot leaves it unsent
            raise self._error(job, action.cause, action.where, submitted, timeout_s)
        if slot is not None:  # busy: wait for the worker, the policy's instant or a revocation
            waits: list[simpy.Event] = [slot, job.cancel] if revocable else [slot]
            until = action.until if isinstance(action, Wait) else env.now
            timer = None if until is None else env.timeout(max(0.0, until - env.now))
            yield env.any_of(waits if timer is None else [*waits, timer])
            if not slot.triggered:  # expired or cancelled while queued: never reached a worker
                device.worker.cancel(slot)
                now = env.now
                if until is not None and timer is not None and timer.processed:
                    now = until  # the instant it was woken for (the clock can fall an ulp short)
                action = policies.step(replace(queued, cancelled=job.cancel.triggered), now)
                assert isinstance(action, Answer), action
                raise self._error(job, action.cause, action.where, submitted, timeout_s)
        job.started_work = env.now
        if device.stale_model:  # `TracedModel.reseed`: inside this job's time
            job.rebuild_s = self.sampler.rebuild(self.respawn_rng)
            device.stale_model = False
        row.decode_rebuild_s = job.rebuild_s
        end = env.now + job.rebuild_s + job.service_s
        stop_at = self._stop_at(job, end, deadline)  # cooperative: a stop past the deadline
        ends = end if stop_at is None else stop_at  # when the worker answers by itself
        state, now = replace(queued, running=True), env.now
        while True:
            action = policies.step(state, now)
            if isinstance(action, Kill):
                self._kill(device, job, deadline)
                raise self._error(job, action.cause, Where.RUNNING, submitted, timeout_s)
            if isinstance(action, Answer):  # legacy_thread: nobody stops the worker
                job.given_up = True
                job.open += 1  # the worker records its late result into the row when it ends
                self._decode_on(device, job, replace(state, answered=True), ends, now)
                raise self._error(job, action.cause, action.where, submitted, timeout_s)
            until = action.until
            wake = ends if until is None else min(ends, until)
            ran = env.timeout(max(0.0, wake - env.now))
            yield ran | job.cancel if revocable else ran
            now = wake if ran.processed else env.now  # else revoked: now, before ``wake``
            # The decode's end beats a kill due at the same instant; a cooperative stop does not.
            stopped = now >= ends and (until is None or ends < until)
            if now >= end or stopped:
                break
            state = replace(state, cancelled=job.cancel.triggered)
        self._done(device, job, deadline)
        if now < end:
            row.worker_status = "partial"  # stopped cooperatively: what it decoded

    def _decode_on(
        self, device: _Device, job: _Job, state: JobState, ends: float, now: float
    ) -> None:
        """The caller was answered at ``now`` and the worker decodes on (legacy_thread) until
        ``ends``; the policy is stepped in callbacks: the worker needs no process of its own."""
        assert job.cancel is not None
        state = replace(state, cancelled=job.cancel.triggered)
        action = policies.step(state, now)
        if isinstance(action, Kill):
            self._kill(device, job, state.deadline)
            self._close(job)
            return
        assert isinstance(action, Wait), action  # the caller was answered already
        wake = ends if action.until is None else min(ends, action.until)

        def woke(_: simpy.Event) -> None:
            if wake >= ends:
                self._done(device, job, state.deadline)
            else:
                self._decode_on(device, job, state, ends, wake)

        self.env.timeout(max(0.0, wake - self.env.now)).callbacks.append(woke)

    def _done(self, device: _Device, job: _Job, deadline: float | None) -> None:
        """The worker finished a decode (its caller answered, or given up on: legacy)."""
        device.stale_model = job.sampled
        device.worker.release()
        if deadline is not None and self.env.now > deadline:
            job.row.worker_work_after_deadline_s = self.env.now - deadline
        job.row.worker_late_result = job.given_up
        if job.given_up:
            self._close(job)

    def _stop_at(self, job: _Job, end: float, deadline: float | None) -> float | None:
        """The worker's own stop (cooperative): the first deadline check past the deadline."""
        if not policies.stops_cooperatively(self.remedy.policy):
            return None
        if deadline is None or end <= deadline:
            return None
        assert job.started_work is not None
        began = job.started_work + job.rebuild_s  # the stops count from the decode's start
        past = [began + s for s in job.stops_s if began + s >= deadline]
        return min(past) if past and min(past) < end else None

    def _kill(self, device: _Device, job: _Job, deadline: float | None) -> None:
        """SIGKILL: the worker stays busy until it has respawned."""
        row = job.row
        row.worker_killed = True
        if deadline is not None:
            row.worker_work_after_deadline_s = max(0.0, self.env.now - deadline)
        respawn = self.sampler.respawn(self.respawn_rng)
        row.worker_respawn_s = respawn
        device.stale_model = False  # a new process loads the model afresh
        self.env.timeout(respawn).callbacks.append(lambda _: device.worker.release())

    def _error(
        self, job: _Job, cause: Cause, where: Where, submitted: float, timeout_s: float
    ) -> AsrlabError:
        """What the caller is told when the policy answers it (`Answer`, `Kill`)."""
        if cause == Cause.CANCELLED:
            assert job.cancel is not None
            return JobCancelled(job.plan.job_id, str(job.cancel.value))
        elapsed = self.env.now - submitted
        return AsrTimeout(job.plan.job_id, timeout_s, elapsed, self.remedy.policy, where)

    # --- results --------------------------------------------------------------------------

    def _close(self, job: _Job) -> None:
        """One writer of ``job``'s row is done; at the last, the row goes to the sinks: the
        tally reads the draft (a frozen row costs more than the rest of a job: a day runs
        without one), the others get the job's `JobRow`."""
        job.open -= 1
        if job.open:
            return
        draft, p = job.row, job.plan
        attributor = self.devices[job.device].attributor  # every job is sent to a device
        verdict = attributor.verdict(p.job_id, draft.status, draft.error_type)
        row: JobRow | None = None
        for sink in self._sinks:
            if isinstance(sink, Tally):
                sink.add(p.index, draft, p.job_id, verdict[0])
                continue
            row = row or self._row(job, verdict)
            sink.add(p.index, row)

    def _row(self, job: _Job, verdict: tuple[str | None, str | None]) -> JobRow:
        """``job``'s `JobRow`: its draft, frozen, with its plan, its costs and its verdict."""
        d, p = job.row, job.plan
        return JobRow(
            job_id=p.job_id,
            remedy=self.remedy.name,
            status=d.status,
            simulated=True,
            job_index=p.index,
            arrival_s=p.arrival_s,
            mix_source=p.item.source,
            mix_length_s=p.item.length_s,
            client_error=d.client_error,
            error_type=d.error_type,
            started_s=job.received,
            client_wait_s=d.client_wait_s,
            total_s=d.total_s,
            latency_s=d.latency_s,
            vad_s=job.vad_s,
            lease_token=d.lease_token,
            lease_wait_s=d.lease_wait_s,
            lease_held_s=d.lease_held_s,
            lease_hold_max_s=d.lease_hold_max_s,
            worker_status=d.worker_status,
            worker_killed=d.worker_killed,
            worker_respawn_s=d.worker_respawn_s,
            worker_work_after_deadline_s=d.worker_work_after_deadline_s,
            worker_late_result=d.worker_late_result,
            decode_rebuild_s=d.decode_rebuild_s,
            service_s=None if math.isnan(job.service_s) else job.service_s,  # NaN: no decode
            device=job.device,
            attribution=verdict[0],
            blamed=verdict[1],
        )


def simulate(
    config: SimConfig,
    table: pd.DataFrame | None = None,
    *,
    jobs: Sequence[PlannedJob] | None = None,
    progress: bool = True,
) -> SimResult:
    """Simulate `config` with service times drawn from `table` (default: the bundled one).

    ``jobs`` replaces the seeded plan with hand-placed jobs (as the replay places its two).
    Every row and arbiter event is kept: for a day of traffic use `simulate_summary`.
    """
    table = costs.load() if table is None else table
    with _without_cycle_collection():
        return Simulation(config, table, jobs).run(progress=progress)


def simulate_summary(
    config: SimConfig,
    table: pd.DataFrame | None = None,
    *,
    rows_path: Path | str | None = None,
    progress: bool = True,
) -> SimSummary:
    """`simulate`'s summary line without keeping its rows: memory does not grow with the rows
    (864,000 jobs: a few numbers each), and ``rows_path`` gets them as parquet, in chunks."""
    table = costs.load() if table is None else table
    with _without_cycle_collection():
        simulation = Simulation(config, table, keep=False)
        return simulation.run_summary(rows_path=rows_path, progress=progress)


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector: a run allocates millions of short-lived events that
    reference counting frees, and each collection would walk every live job for nothing (a
    quarter of the time at 100,000 jobs; a run measured leaves no cyclic garbage behind)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
