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
of measured jobs (`asrlab.sim`). The rows come out with the columns of a real
workload's rows, so `asrlab.workload.attribution.summarize` prints the same summary for both.

`simulate` keeps every row and event (`SimResult`); `simulate_summary` keeps none, streaming each
job's row into a tally and, if asked, a parquet file (`asrlab.sim.results`), so that a week of
traffic fits the machine: memory holds a few numbers per job, not its row.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import simpy
from tqdm import tqdm

from asrlab.checks import Check, check_fields, positive, whole
from asrlab.errors import AsrlabError, AsrTimeout, ConfigError, JobCancelled, LeaseRejected
from asrlab.service import policy as policies
from asrlab.service.arbiter import OVERDUE_REASON, ArbiterConfig, LeaseArbiter, timeout_reason
from asrlab.service.remedies import Remedy
from asrlab.sim import costs
from asrlab.sim import jobs as joblist
from asrlab.sim.results import Attributor, Collector, RowsWriter, Tally
from asrlab.sim.slots import Slots
from asrlab.workload.attribution import summarize
from asrlab.workload.traffic import PlannedJob, WorkloadConfig

_EPS_MS = 1e-6  # float slack when comparing simulated instants in ms


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
    row: dict[str, Any] = field(default_factory=dict)
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
    rows: pd.DataFrame  # one row per job, as `frame` gives it
    events: tuple[dict[str, Any], ...]

    def frame(self) -> pd.DataFrame:
        """The rows (a copy: the result stays as it was simulated)."""
        return self.rows.copy()

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
        self.common = {"remedy": self.remedy.name, "simulated": True} | config.row()
        self._sinks: list[Collector | Tally | RowsWriter] = []

    def run(self, *, progress: bool = True) -> SimResult:
        """Simulate, keeping every row and event (a `Simulation` made with ``keep``)."""
        if self._events is None:
            raise ConfigError("keep", False, "a run that keeps nothing has no rows: run_summary")
        kept = Collector(len(self.jobs), self.common)
        self._run([kept], progress)
        events = tuple(e for mine in self._events for e in mine)
        return SimResult(self.config, kept.frame(), events)

    def run_summary(
        self, *, rows_path: Path | str | None = None, progress: bool = True
    ) -> SimSummary:
        """Simulate, keeping a tally and no rows; each row to ``rows_path`` (parquet) if given."""
        tally = Tally(len(self.jobs), self.remedy.name)
        if rows_path is None:
            self._run([tally], progress)
            return SimSummary(self.config, tally.summary())
        writer = RowsWriter(rows_path, self.common)
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

    def _arrivals(self) -> Iterator[simpy.Event]:
        env = self.env
        # A job's objects are made as it arrives and dropped once its row is final.
        for planned, *drawn in self.costs.each(self.jobs, self.sampler):
            delay = planned.arrival_s - env.now
            if delay > 0:
                yield env.timeout(delay)
            env.process(self._job(_Job(planned, *drawn)))

    def _job(self, job: _Job) -> Iterator[simpy.Event]:
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
            row |= {"status": "ok", "client_error": None, "error_type": None}
            row |= {"lease_token": None, "lease_wait_s": None, "lease_hold_max_s": None}
            try:
                yield env.timeout(job.vad_s)
                if self.remedy.vad_gate and not job.speech:
                    pass  # "no speech: not decoded": answered after VAD
                else:
                    yield from self._lease_and_transcribe(device, job)
            except AsrlabError as e:
                row |= {"status": "failed", "client_error": str(e), "error_type": type(e).__name__}
            finally:
                loads[job.device] -= 1
            answered = env.now - job.received
            wait = job.received - job.plan.arrival_s
            row |= {"total_s": answered, "client_wait_s": wait, "latency_s": wait + answered}
            self.done += 1
            self._close(job)
        finally:
            self.clients.release()

    def _lease_and_transcribe(self, device: _Device, job: _Job) -> Iterator[simpy.Event]:
        env = self.env
        asked = env.now
        try:
            lease = yield from self._acquire(device, job)
        except LeaseRejected:
            job.row["lease_wait_s"] = env.now - asked
            raise
        granted = env.now
        job.row |= {
            "lease_token": lease.token,
            "lease_wait_s": granted - asked,
            "lease_hold_max_s": lease.hold_max_ms / 1000.0,
        }
        device.attributor.granted(job.plan.job_id, job.row["lease_hold_max_s"])
        device.holders[lease.token] = job
        job.cancel = env.event()
        try:
            yield from self._transcribe(device, job)
        finally:
            job.row["lease_held_s"] = env.now - granted
            device.holders.pop(lease.token, None)
            device.core.release(lease.token, device.now_ms())
            device.notify()

    def _acquire(self, device: _Device, job: _Job) -> Iterator[simpy.Event]:
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

    def _transcribe(self, device: _Device, job: _Job) -> Iterator[simpy.Event]:
        """Submit to the device's worker; the caller is answered as the policy answers it.

        The worker is not a process of its own (two fewer events a job): a legacy worker that
        decodes on after its caller gave up finishes in a callback, and so does a killed
        worker's respawn, both holding the device's worker slot until then.
        """
        env, policy, row = self.env, self.remedy.policy, job.row
        submitted = env.now
        timeout_s = max(0.0, job.deadline - submitted)
        deadline = policies.deadline(policy, submitted, timeout_s)
        row |= {"worker_late_result": False, "worker_work_after_deadline_s": 0.0}
        row |= {"worker_killed": False, "worker_respawn_s": None}
        assert job.cancel is not None
        revocable = self.remedy.arbiter_policy == "revoke_overdue"  # else cancel never fires
        slot = device.worker.take()
        if slot is not None:  # the worker is busy: wait for it, the deadline or a revocation
            waits: list[simpy.Event] = [slot, job.cancel] if revocable else [slot]
            if deadline is not None:
                waits.append(env.timeout(max(0.0, deadline - env.now)))
            yield env.any_of(waits)
            if not slot.triggered:  # expired or cancelled while queued: never reached a worker
                device.worker.cancel(slot)
                if job.cancel.triggered:
                    raise JobCancelled(job.plan.job_id, job.cancel.value)
                raise self._timeout(job, submitted, timeout_s, "queued")
        job.started_work = env.now
        if device.stale_model:  # `TracedModel.reseed`: inside this job's time
            job.rebuild_s = self.sampler.rebuild(self.respawn_rng)
            device.stale_model = False
        row["decode_rebuild_s"] = job.rebuild_s
        end = env.now + job.rebuild_s + job.service_s
        stop_at = self._stop_at(job, end, deadline)  # cooperative: a stop past the deadline
        kill_at = self._kill_at(deadline, end)
        finish = min(t for t in (end, stop_at, kill_at) if t is not None)
        # legacy_thread: the caller gives up at the deadline, and nobody stops the worker
        legacy = policies.legacy(policy) and deadline is not None
        answer = min(finish, deadline) if legacy else finish
        ran = env.timeout(answer - env.now)
        yield ran | job.cancel if revocable else ran
        if job.cancel.triggered and env.now < finish:  # revoked: the worker is killed now
            cancelled = JobCancelled(job.plan.job_id, job.cancel.value)
            raise self._kill(device, job, deadline, cancelled)
        if finish == kill_at and kill_at < end:
            expired = self._timeout(job, submitted, timeout_s, "running")
            raise self._kill(device, job, deadline, expired)
        if env.now < finish:
            job.given_up = True
            job.open += 1  # the worker records its late result into the row when it ends
            late = env.timeout(finish - env.now)
            late.callbacks.append(lambda _: self._done(device, job, deadline))
            raise self._timeout(job, submitted, timeout_s, "running")
        self._done(device, job, deadline)
        if stop_at is not None and finish == stop_at:
            row["worker_status"] = "partial"  # stopped cooperatively: what it decoded

    def _done(self, device: _Device, job: _Job, deadline: float | None) -> None:
        """The worker finished a decode (its caller answered, or given up on: legacy)."""
        device.stale_model = job.sampled
        device.worker.release()
        if deadline is not None and self.env.now > deadline:
            job.row["worker_work_after_deadline_s"] = self.env.now - deadline
        job.row["worker_late_result"] = job.given_up
        if job.given_up:
            self._close(job)

    def _stop_at(self, job: _Job, end: float, deadline: float | None) -> float | None:
        if not policies.stops_cooperatively(self.remedy.policy):
            return None
        if deadline is None or end <= deadline:
            return None
        assert job.started_work is not None
        began = job.started_work + job.rebuild_s  # the stops count from the decode's start
        past = [began + s for s in job.stops_s if began + s >= deadline]
        return min(past) if past and min(past) < end else None

    def _kill_at(self, deadline: float | None, end: float) -> float | None:
        if deadline is None or end <= deadline:  # done in time: nobody kills it
            return None
        return policies.kill_at(self.remedy.policy, deadline, self.config.backstop_s)

    def _kill(
        self,
        device: _Device,
        job: _Job,
        deadline: float | None,
        error: AsrlabError,
    ) -> AsrlabError:
        """SIGKILL: returns ``error``, what the caller is told now; the worker stays busy until
        it has respawned."""
        row = job.row
        row["worker_killed"] = True
        if deadline is not None:
            row["worker_work_after_deadline_s"] = max(0.0, self.env.now - deadline)
        respawn = self.sampler.respawn(self.respawn_rng)
        row["worker_respawn_s"] = respawn
        device.stale_model = False  # a new process loads the model afresh
        self.env.timeout(respawn).callbacks.append(lambda _: device.worker.release())
        return error

    def _timeout(self, job: _Job, submitted: float, timeout_s: float, where: str) -> AsrTimeout:
        elapsed = self.env.now - submitted
        return AsrTimeout(job.plan.job_id, timeout_s, elapsed, self.remedy.policy, where)

    # --- results --------------------------------------------------------------------------

    def _close(self, job: _Job) -> None:
        """One writer of ``job``'s row is done; at the last, the row goes to the sinks."""
        job.open -= 1
        if job.open:
            return
        row, p = job.row, job.plan
        attributor = self.devices[job.device].attributor  # every job is sent to a device
        verdict = attributor.verdict(p.job_id, row["status"], row["error_type"])
        per_job: tuple[Any, ...] | None = None
        for sink in self._sinks:
            if isinstance(sink, Tally):
                sink.add(p.index, row, p.job_id, verdict[0])
                continue
            per_job = per_job or (
                p.job_id, p.index, p.arrival_s, job.received, p.item.source, p.item.length_s,
                job.vad_s, job.service_s, job.device,
            )  # fmt: skip
            sink.add(p.index, row, per_job, verdict)


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
