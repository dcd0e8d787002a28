"""The timeout policy's one step function: a table of (policy, state, time) -> action, and the
real worker manager and the simulator driven through it to the same actions."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from asrlab.audio import corpus
from asrlab.decoding.options import preset
from asrlab.decoding.trace import DecodeTrace
from asrlab.errors import AsrTimeout
from asrlab.service import policy
from asrlab.service.manager import WorkerManager
from asrlab.service.policy import (
    Action,
    Answer,
    Cause,
    JobState,
    Kill,
    Policy,
    Wait,
    Where,
)
from asrlab.service.remedies import REMEDIES
from asrlab.service.rows import JobRow
from asrlab.service.worker import WorkerConfig
from asrlab.sim.core import SimConfig, Simulation
from asrlab.sim.costs import COLUMNS, WHOLE
from asrlab.workload.real import with_decode
from asrlab.workload.traffic import MixItem, PlannedJob

DUE, BACKSTOP_S = 10.0, 1.0  # a job submitted at 0 s with a 10 s timeout
BEFORE, AT, PAST, AT_BACKSTOP, LATER = 5.0, DUE, DUE + 0.5, DUE + BACKSTOP_S, DUE + 5.0
NONE, LEGACY, HARD, COOP = (
    Policy.NONE,
    Policy.LEGACY_THREAD,
    Policy.HARD_KILL,
    Policy.COOPERATIVE,
)


def state(pol: Policy, where: str) -> JobState:
    """The job's state by name: ``queued``, ``running``, ``given_up`` (answered, the worker
    decodes on), ``answered_queued`` (expired while queued), with ``+cancelled`` appended."""
    name, _, cancelled = where.partition("+")
    return JobState(
        policy=pol,
        deadline=policy.deadline(pol, 0.0, DUE),
        backstop_s=BACKSTOP_S,
        running=name in ("running", "given_up"),
        answered=name in ("given_up", "answered_queued"),
        cancelled=bool(cancelled),
    )


TIMED_OUT_QUEUED = Answer(Cause.TIMEOUT, Where.QUEUED)
GIVE_UP = Answer(Cause.TIMEOUT, Where.RUNNING)
DROP = Answer(Cause.CANCELLED, Where.QUEUED)
KILL, KILL_CANCELLED = Kill(Cause.TIMEOUT), Kill(Cause.CANCELLED)
ANY_TIME = (BEFORE, AT, PAST, AT_BACKSTOP, LATER)

TABLE: list[tuple[Policy, str, tuple[float, ...], Action]] = [
    # none: no deadline, nothing happens until the worker answers, unless it is cancelled
    (NONE, "queued", ANY_TIME, Wait(None)),
    (NONE, "running", ANY_TIME, Wait(None)),
    (NONE, "queued+cancelled", ANY_TIME, DROP),
    (NONE, "running+cancelled", ANY_TIME, KILL_CANCELLED),
    # legacy_thread: the caller is told at the deadline, the worker decodes on
    (LEGACY, "queued", (BEFORE,), Wait(DUE)),
    (LEGACY, "queued", (AT, PAST, LATER), TIMED_OUT_QUEUED),
    (LEGACY, "running", (BEFORE,), Wait(DUE)),
    (LEGACY, "running", (AT, PAST, AT_BACKSTOP, LATER), GIVE_UP),
    (LEGACY, "given_up", ANY_TIME, Wait(None)),
    (LEGACY, "running+cancelled", (BEFORE, AT, LATER), KILL_CANCELLED),
    (LEGACY, "given_up+cancelled", (LATER,), KILL_CANCELLED),
    # hard_kill: killed at the deadline
    (HARD, "queued", (BEFORE,), Wait(DUE)),
    (HARD, "queued", (AT, LATER), TIMED_OUT_QUEUED),
    (HARD, "running", (BEFORE,), Wait(DUE)),
    (HARD, "running", (AT, PAST, LATER), KILL),
    (HARD, "running+cancelled", (BEFORE,), KILL_CANCELLED),
    (HARD, "running+cancelled", (AT, LATER), KILL),  # at one instant the deadline comes first
    (HARD, "queued+cancelled", (BEFORE, LATER), DROP),
    # cooperative: the worker stops itself; killed at the backstop if it has not
    (COOP, "queued", (BEFORE,), Wait(DUE)),
    (COOP, "queued", (AT, PAST), TIMED_OUT_QUEUED),
    (COOP, "running", (BEFORE, AT, PAST), Wait(DUE + BACKSTOP_S)),
    (COOP, "running", (AT_BACKSTOP, LATER), KILL),
    (COOP, "running+cancelled", (BEFORE, PAST), KILL_CANCELLED),
    (COOP, "running+cancelled", (AT_BACKSTOP,), KILL),
    # answered while queued: nothing more to do, whatever the policy
    *[(p, "answered_queued", ANY_TIME, Wait(None)) for p in Policy],
]


@pytest.mark.parametrize(
    ("pol", "where", "now", "expected"),
    [(p, w, t, a) for p, w, times, a in TABLE for t in times],
    ids=str,
)
def test_step(pol: Policy, where: str, now: float, expected: Action) -> None:
    assert policy.step(state(pol, where), now) == expected


def test_the_table_covers_every_policy_before_at_and_after_the_deadline() -> None:
    for pol in Policy:
        times = {t for p, w, ts, _ in TABLE if p == pol and w.startswith("running") for t in ts}
        assert {BEFORE, AT, LATER} <= times, pol


# --- the real manager and the simulator, through the one function ------------------------------

Step = tuple[str, ...]


def label(state: JobState, action: Action) -> Step:
    """An action as comparable between clocks: its kind, its cause, and what a wait is for."""
    match action:
        case Wait(until=None):
            return ("wait", "for the worker")
        case Wait(until=until):
            return ("wait", "deadline" if until == state.deadline else "backstop")
        case Answer(cause=cause, where=where):
            return ("answer", cause.value, where.value)
        case Kill(cause=cause):
            return ("kill", cause.value)
    raise AssertionError(action)


def spy(monkeypatch: pytest.MonkeyPatch) -> list[Step]:
    """Record every step either clock takes (consecutive repeats once: the real manager asks
    again every 50 ms while it waits, the simulator once per instant that matters)."""
    seen: list[Step] = []
    real: Callable[[JobState, float], Action] = policy.step

    def recorded(state: JobState, now: float) -> Action:
        action = real(state, now)
        step = label(state, action)
        if not seen or seen[-1] != step:
            seen.append(step)
        return action

    monkeypatch.setattr(policy, "step", recorded)
    return seen


# The deadline falls at a quarter of the job's own decode, as measured (policy none) in the same
# run: a fixed deadline made "overruns by far" hinge on this CPU's speed (tiny.en's 3 s decode
# missed 2 x a 1.5 s deadline on one lab machine). The cooperative job stops long before its
# backstop.
TIMEOUT_SHARE, COOP_BACKSTOP_S = 0.25, 30.0
SPEECH = MixItem("lang:en", None, 1.0)
# What each policy's one overrunning job goes through, on either clock.
EXPECTED: dict[Policy, list[Step]] = {
    NONE: [("wait", "for the worker")],
    LEGACY: [("wait", "deadline"), ("answer", "timeout", "running"), ("wait", "for the worker")],
    HARD: [("wait", "deadline"), ("kill", "timeout")],
    COOP: [("wait", "deadline"), ("wait", "backstop")],
}


def run_real(
    pol: Policy, clip: np.ndarray, steps: list[Step], timeout_s: float
) -> tuple[str, DecodeTrace | None]:
    """One job on a real worker (tiny.en) under ``pol``: its outcome and its trace."""
    cfg = WorkerConfig(
        model="tiny.en", policy=pol, asr_timeout_s=timeout_s, backstop_s=COOP_BACKSTOP_S
    )
    with WorkerManager(cfg) as manager:
        steps.clear()
        job = manager.submit(clip, preset("incident", beam_size=1, language="en"))
        try:
            trace: DecodeTrace | None = job.result().trace
        except AsrTimeout:
            trace = None
        give_up = time.monotonic() + 60.0
        while pol == LEGACY and not job.metrics.late_result and time.monotonic() < give_up:
            time.sleep(0.05)  # the worker decodes on: its result comes late
        m = job.metrics
    outcome = "killed" if m.killed else "late" if m.late_result else m.status
    return outcome, trace


def sim_row(
    pol: Policy, service_s: float, stops_s: list[float], timeout_s: float
) -> dict[str, object]:
    """The same job in the simulator: its measured decode, the same thresholds."""
    name = {NONE: "hard_kill", LEGACY: "incident", HARD: "hard_kill", COOP: "cooperative"}[pol]
    decode_hash = REMEDIES[name].decode.config_hash()
    like = {
        "kind": "job", "model": "tiny.en", "compute_type": "int8", "decode_hash": decode_hash,
        "vad_gate": False, "source": SPEECH.source, "length_s": WHOLE, "audio": "",
        "audio_s": 71.0, "vad_s": 0.01, "speech": True, "service_s": service_s,
        "stops_s": json.dumps(stops_s), "code_version": "test", "measured_by": "test",
        "sampled": False,
    }  # fmt: skip
    respawn = like | {"kind": "respawn", "source": "", "service_s": 2.0}
    table = pd.DataFrame([like, respawn], columns=list(COLUMNS))
    config = SimConfig(
        remedy=name, model="tiny.en", compute_type="int8", n_jobs=1, mix=(SPEECH,),
        asr_timeout_s=timeout_s, backstop_s=COOP_BACKSTOP_S,
    )  # fmt: skip
    simulation = Simulation(config, table, [PlannedJob(0, "job-A", 0.0, SPEECH, 1)])
    if pol == NONE:  # no remedy runs without a deadline; the twin takes the policy alone
        simulation.remedy = dataclasses.replace(simulation.remedy, policy=NONE)
    [row] = simulation.run(progress=False).frame().to_dict("records")
    return row


def sim_outcome(row: dict[str, object]) -> str:
    if row["worker_killed"]:
        return "killed"
    if row["worker_late_result"]:
        return "late"
    return "partial" if row["worker_status"] == "partial" else str(row["status"])


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_the_real_manager_and_the_simulator_take_the_same_steps(
    monkeypatch: pytest.MonkeyPatch, worker_processes: None
) -> None:
    """One 71 s clip (tiny.en, greedy: a few seconds of decoding) with a deadline at a quarter
    of its decode under every policy, on real worker processes and in the twin with the decode
    the real run measured: both step `policy.step` through the same actions to the same
    outcome."""
    clip = corpus.get("en_ljspeech_LJ028-0030_to_0039_long").load()
    steps = spy(monkeypatch)
    real: dict[Policy, tuple[list[Step], str]] = {}
    # none first: its full decode is the twin's service time and sets the others' deadline
    outcome, trace = run_real(NONE, clip, steps, timeout_s=COOP_BACKSTOP_S)  # no deadline
    real[NONE] = (list(steps), outcome)
    assert trace is not None
    costs = with_decode(JobRow(job_id="job-A", remedy="none", status="ok"), trace)
    timeout_s = TIMEOUT_SHARE * trace.wall_s
    for pol in (LEGACY, HARD, COOP):
        outcome, _ = run_real(pol, clip, steps, timeout_s)
        real[pol] = (list(steps), outcome)
    for pol in Policy:
        steps.clear()
        assert costs.decode_wall_s is not None and costs.decode_stops_s is not None
        row = sim_row(pol, costs.decode_wall_s, json.loads(costs.decode_stops_s), timeout_s)
        real_steps, real_outcome = real[pol]
        assert steps == real_steps == EXPECTED[pol], pol
        assert sim_outcome(row) == real_outcome, pol
    assert {pol: outcome for pol, (_, outcome) in real.items()} == {
        NONE: "ok",
        LEGACY: "late",
        HARD: "killed",
        COOP: "partial",
    }
