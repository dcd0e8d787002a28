"""The SimPy twin: its mechanics on hand-placed jobs with fixed costs, the service-time table,
and one real workload rebuilt from its own measured rows."""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import simpy
from scenarios import CASCADE_MIX, cascade_workload

from asrlab.errors import ConfigError
from asrlab.service import rows as jobrows
from asrlab.service import scaling
from asrlab.service.arbiter import LeaseArbiter
from asrlab.service.remedies import REMEDIES, remedy
from asrlab.service.rows import JobRow
from asrlab.sim.calibrate import calibrate
from asrlab.sim.core import SimConfig, Simulation, simulate
from asrlab.sim.costs import COLUMNS, WHOLE, Sampler, from_workload_rows, groups, load, save
from asrlab.workload.attribution import summarize
from asrlab.workload.real import run_workload
from asrlab.workload.traffic import MixItem, PlannedJob, plan

NOISE = MixItem("pink_noise", 11.2, 1.0)
SPEECH = MixItem("lang:en", None, 1.0)


def table(
    costs: dict[str, tuple[float, float, bool]],
    *,
    respawn_s: float = 2.0,
    stops: tuple[float, ...] = (),
    model: str = "base",
    sampled: tuple[str, ...] = (),
    rebuild_s: float | None = None,
) -> pd.DataFrame:
    """One measured row per source (fixed draws): source -> (vad_s, service_s, speech), for
    every remedy's decode and gate; the ``sampled`` sources' decodes sampled, and a model
    rebuild took ``rebuild_s``."""
    rows = []
    for r in {remedy(n).decode.config_hash(): remedy(n) for n in REMEDIES}.values():
        for gate in (False, True):
            like = {
                "kind": "job", "model": model, "compute_type": "float32",
                "decode_hash": r.decode.config_hash(), "vad_gate": gate, "length_s": 11.2,
                "audio_s": 11.2, "code_version": "test", "measured_by": "test",
            }  # fmt: skip
            for source, (vad_s, service_s, speech) in costs.items():
                length = WHOLE if source.startswith("lang:") else 11.2
                rows.append(
                    like
                    | {"source": source, "length_s": length, "vad_s": vad_s, "speech": speech}
                    | {"service_s": service_s, "stops_s": json.dumps(list(stops))}
                    | {"sampled": source in sampled}
                )
            rows.append(like | {"kind": "respawn", "source": "", "service_s": respawn_s})
            if rebuild_s is not None:
                rows.append(like | {"kind": "rebuild", "source": "", "service_s": rebuild_s})
    return pd.DataFrame(rows, columns=list(COLUMNS))


# The incident in seconds: noise decodes 38 s (ASR timeout 30 s, hold_max 20 s), speech 2 s.
INCIDENT_COSTS = {"pink_noise": (0.1, 38.0, False), "lang:en": (0.1, 2.0, True)}


def two_jobs(b_arrival_s: float) -> list[PlannedJob]:
    return [
        PlannedJob(0, "job-A", 0.0, NOISE, 3),
        PlannedJob(1, "job-B", b_arrival_s, SPEECH, 4),
    ]


def run(
    remedy_name: str,
    jobs: list[PlannedJob],
    stops: tuple[float, ...] = (),
    costs: pd.DataFrame | None = None,
    **kw,
) -> dict[str, JobRow]:
    config = SimConfig(remedy=remedy_name, n_jobs=len(jobs), mix=(NOISE, SPEECH), **kw)
    costs = table(INCIDENT_COSTS, stops=stops) if costs is None else costs
    return {r.job_id: r for r in simulate(config, costs, jobs=jobs, progress=False).jobs}


def test_the_incident_chain_is_reproduced_by_the_real_arbiter() -> None:
    rows = run("incident", two_jobs(21.0))
    a, b = rows["job-A"], rows["job-B"]
    # A: its caller gives up at the 30 s ASR timeout (VAD 0.1 s, then the deadline); the worker
    # decodes on to 0.1 + 38 s, a late result.
    assert a.error_type == "AsrTimeout" and a.latency_s == pytest.approx(30.0)
    assert a.worker_late_result and a.worker_work_after_deadline_s == pytest.approx(8.1)
    # B asks at 21.1 s while A's lease (granted at 0.1 s) is overdue: refused 5 s later.
    assert b.client_error == "GPU lease timeout: GPU_USAGE_HIGH"
    assert b.lease_wait_s == pytest.approx(5.0)
    assert b.attribution == "cascade" and b.blamed == "job-A"


@pytest.mark.parametrize("drift", [0.8, 1.0, 1.5])
@pytest.mark.parametrize("machine", [0.5, 2.0])
def test_the_calibrated_replay_closes_the_chain_on_a_faster_or_slower_machine(
    machine: float, drift: float
) -> None:
    """Job A decodes in 38 s here (the scripted table); on a machine twice as fast or twice as
    slow it measures its own decode, the thresholds follow it (`scaling.scale_for`), and the
    chain closes: A's caller times out, B is refused with the incident's text. It still closes
    when the replay's decode runs 20 % faster or 50 % slower than the measurement did."""
    measured_s = 38.0 * machine
    values = scaling.thresholds(SimConfig(), scaling.scale_for(measured_s))
    costs = {"pink_noise": (0.1, measured_s * drift, False), "lang:en": (0.1, 2.0 * machine, True)}
    rows = run("incident", two_jobs(values.b_delay_s), costs=table(costs), **values.overrides())
    a, b = rows["job-A"], rows["job-B"]
    assert a.error_type == "AsrTimeout" and a.worker_late_result
    assert a.latency_s == pytest.approx(values.asr_timeout_s)
    assert b.client_error == "GPU lease timeout: GPU_USAGE_HIGH"
    assert b.attribution == "cascade" and b.blamed == "job-A"


def test_at_the_absolute_thresholds_a_fast_machine_never_shows_the_chain() -> None:
    """Why the replay is calibrated: A decoding in 19 s finishes inside the incident's 30 s
    timeout and releases its lease before B arrives at 21 s."""
    costs = {"pink_noise": (0.1, 19.0, False), "lang:en": (0.1, 1.0, True)}
    rows = run("incident", two_jobs(21.0), costs=table(costs))
    assert rows["job-A"].status == "ok" and rows["job-B"].status == "ok"


def test_the_scale_keeps_the_incidents_proportions_and_a_margin() -> None:
    values = scaling.thresholds(SimConfig(), scaling.scale_for(40.0))
    assert values.asr_timeout_s == pytest.approx(40.0 / scaling.MARGIN)
    assert values.segments_timeout_s / values.asr_timeout_s == pytest.approx(20.0 / 30.0)
    assert values.hold_max_ms / 1000 / values.asr_timeout_s == pytest.approx(20.0 / 30.0)
    assert values.acquire_timeout_ms / 1000 / values.asr_timeout_s == pytest.approx(5.0 / 30.0)
    assert values.b_delay_s / values.asr_timeout_s == pytest.approx(21.0 / 30.0)
    assert scaling.thresholds(SimConfig()).asr_timeout_s == 30.0  # absolute: scale 1
    sixty = scaling.thresholds(SimConfig(remedy="timeout_60_40"), values.scale)
    assert sixty.asr_timeout_s == pytest.approx(2 * values.asr_timeout_s)
    with pytest.raises(ConfigError):
        scaling.scale_for(0.0)


def test_before_the_lease_is_overdue_b_waits_and_is_served_after_the_late_work() -> None:
    rows = run("incident", two_jobs(10.0))
    b = rows["job-B"]
    # B asks at 10.1 s, A holds the lease: B gives up at 15.1 s with the state of a full device.
    assert b.client_error == "GPU lease timeout: HIGH_PRESSURE"
    assert b.attribution == "refused_other"


def test_hard_kill_frees_the_lease_at_the_deadline_and_pays_the_respawn() -> None:
    rows = run("hard_kill", two_jobs(29.0))
    a, b = rows["job-A"], rows["job-B"]
    assert a.worker_killed and a.latency_s == pytest.approx(30.0)
    assert a.worker_respawn_s == pytest.approx(2.0)
    # B: lease at 30.0 s (A's release), worker back at 32.0 s, decode 2 s: answered at 34 s.
    assert b.status == "ok" and b.lease_wait_s == pytest.approx(30.0 - 29.1)
    assert b.arrival_s + b.latency_s == pytest.approx(34.0)


def test_revoke_overdue_cancels_the_holder_1_ms_after_hold_max() -> None:
    rows = run("revoke_overdue", two_jobs(21.0))
    a, b = rows["job-A"], rows["job-B"]
    assert a.error_type == "JobCancelled" and "revoked" in a.client_error
    assert a.latency_s == pytest.approx(0.1 + 20.0 + 0.001)
    assert b.status == "ok"  # the worker restarted in 2 s, well inside B's deadline


def test_deadline_aware_refuses_at_once_behind_an_overdue_lease() -> None:
    rows = run("deadline_aware", two_jobs(21.0))
    b = rows["job-B"]
    assert b.client_error.startswith(
        "GPU lease refused: expected wait unbounded (a lease is overdue)"
    )
    assert b.lease_wait_s == pytest.approx(0.0)


def test_cooperative_stops_at_the_first_deadline_check_past_the_deadline() -> None:
    # Deadline 30 s; the decode began at 0.1 s and checks its deadline every 1.5 s of decoding:
    # the first check at or past 30 s is at 0.1 + 20 x 1.5 = 30.1 s, inside the 1 s backstop.
    a = run("cooperative", two_jobs(100.0), stops=tuple(1.5 * k for k in range(26)))["job-A"]
    assert a.status == "ok" and a.worker_status == "partial"
    assert a.latency_s == pytest.approx(30.1)


def test_cooperative_without_a_check_in_time_is_killed_at_the_backstop() -> None:
    # Checks every 4 s: 28.1 s is before the deadline, 32.1 s after the 31 s backstop.
    a = run("cooperative", two_jobs(100.0), stops=tuple(4.0 * k for k in range(10)))["job-A"]
    assert a.error_type == "AsrTimeout" and a.worker_killed
    assert a.latency_s == pytest.approx(31.0)


def test_the_vad_gate_answers_noise_without_a_lease() -> None:
    rows = run("vad_gate+hard_kill", two_jobs(1.0))
    a = rows["job-A"]
    assert a.status == "ok" and a.latency_s == pytest.approx(0.1)
    assert a.lease_token is None


def test_a_second_device_serves_what_one_device_refuses() -> None:
    one = run("incident", two_jobs(21.0))
    two = run("incident", two_jobs(21.0), devices=2, clients=2)
    assert one["job-B"].status == "failed" and two["job-B"].status == "ok"
    assert [r.device for r in two.values()] == [0, 1]


def test_a_job_queued_at_the_worker_past_its_deadline_fails_there() -> None:
    # Capacity 2 leases on one worker, ASR timeout 20 s: A's caller gives up at 20 s but its
    # late decode (legacy) keeps the worker busy until 38.1 s. B (at 10 s) gets a lease at once
    # and queues for the worker; its deadline, 30 s, passes while it is still queued.
    jobs = [PlannedJob(0, "job-A", 0.0, NOISE, 3), PlannedJob(1, "job-B", 10.0, SPEECH, 4)]
    rows = run("incident", jobs, capacity=2, asr_timeout_s=20.0)
    b = rows["job-B"]
    assert b.error_type == "AsrTimeout" and "while queued" in b.client_error
    assert b.latency_s == pytest.approx(20.0)


def test_the_same_seed_gives_the_same_rows_and_the_real_plan() -> None:
    config = SimConfig(n_jobs=300, rate_per_min=12.0, seed=7, mix=(NOISE, SPEECH))
    costs = {"pink_noise": (0.1, 25.0, False), "lang:en": (0.1, 2.0, True)}
    first = simulate(config, table(costs), progress=False).frame()
    again = simulate(config, table(costs), progress=False).frame()
    pd.testing.assert_frame_equal(first, again)
    assert list(first["arrival_s"]) == [p.arrival_s for p in plan(config)]
    line = summarize(first)
    assert 0 < line["success_rate"] < 1 and line["cascade"] > 0  # an overloaded incident


def test_the_arbiter_is_the_real_one_not_a_copy() -> None:
    config = SimConfig(n_jobs=2, mix=(NOISE, SPEECH))
    s = Simulation(config, table(INCIDENT_COSTS), two_jobs(21.0))
    assert all(type(d.core) is LeaseArbiter for d in s.devices)


def test_every_failure_is_attributed_once() -> None:
    config = SimConfig(n_jobs=200, rate_per_min=20.0, mix=(NOISE, SPEECH), devices=2)
    line = simulate(config, table(INCIDENT_COSTS), progress=False).summary()
    attributed = sum(line[name] for name in ("own_timeout", "cascade", "refused_other"))
    assert line["n_jobs"] - line["n_ok"] == attributed > 0
    assert line["cascade"] > 0 and line["own_timeout"] > 0


def test_a_decode_after_a_sampled_one_waits_for_the_model_rebuild() -> None:
    """`TracedModel.reseed` rebuilds a model that sampled before its next decode: in the
    validation workloads 0.2-0.3 s inside 13 % of the decodes, each right after a noise decode
    that climbed the ladder."""
    costs = table(INCIDENT_COSTS, sampled=("pink_noise",), rebuild_s=0.25)
    # A (noise, 38 s, sampled) runs late past its 30 s deadline; B queues at the worker.
    jobs = [PlannedJob(0, "job-A", 0.0, NOISE, 3), PlannedJob(1, "job-B", 36.0, SPEECH, 4)]
    rows = run("incident", jobs, costs=costs, capacity=2)
    b = rows["job-B"]
    assert b.status == "ok" and b.decode_rebuild_s == pytest.approx(0.25)
    # B started at 38.1 s (A's late end), then the rebuild, then its own 2 s.
    assert b.arrival_s + b.latency_s == pytest.approx(38.1 + 0.25 + 2.0)
    assert rows["job-A"].decode_rebuild_s == 0.0
    # A killed worker comes back with a fresh model: nothing to rebuild.
    killed = run("hard_kill", jobs, costs=costs, capacity=2)["job-B"]
    assert killed.status == "ok" and killed.decode_rebuild_s == 0.0
    # Without rebuild rows (a table measured before they were recorded) it is free.
    free = run("incident", jobs, costs=table(INCIDENT_COSTS, sampled=("pink_noise",)), capacity=2)
    assert free["job-B"].decode_rebuild_s == 0.0


def test_the_ticker_wakes_1_ms_past_the_due_of_a_lease_still_held() -> None:
    config = SimConfig(n_jobs=2, mix=(NOISE, SPEECH))
    result = simulate(config, table(INCIDENT_COSTS), jobs=two_jobs(21.0), progress=False)
    states = [(e["t_ms"], e["detail"]) for e in result.events if e["kind"] == "state"]
    # A's lease: granted at 0.1 s, hold_max 20 s; B's speech lease is released long before its
    # due, and its tick, if any, changes nothing.
    assert [d for t, d in states if d == "GPU_USAGE_HIGH"] == ["GPU_USAGE_HIGH"]
    assert (pytest.approx(20_101.0), "GPU_USAGE_HIGH") in states


@pytest.mark.parametrize("preset", ["incident", "vad_gate+hard_kill+no_fallback+beam_5"])
def test_a_job_costs_about_ten_simpy_events(preset: str, monkeypatch) -> None:
    """Issue 6's 100,000 jobs in 20 s rests on this: a job cost 18-20 events while its worker
    was a process of its own, every change woke an empty waiting list and every grant armed a
    tick; the time goes into SimPy's step per event."""
    steps = 0
    step = simpy.Environment.step

    def counted(env: simpy.Environment) -> None:
        nonlocal steps
        steps += 1
        step(env)

    monkeypatch.setattr(simpy.Environment, "step", counted)
    config = SimConfig(remedy=preset, n_jobs=2000, rate_per_min=6.0)
    line = simulate(config, load(), progress=False).summary()
    assert line["n_jobs"] == 2000 and steps / 2000 < 12


@pytest.mark.parametrize("enabled", [True, False])
def test_simulate_leaves_the_cycle_collector_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        simulate(SimConfig(n_jobs=2, mix=(NOISE, SPEECH)), table(INCIDENT_COSTS))
        assert gc.isenabled() is enabled
        with pytest.raises(ConfigError):
            simulate(SimConfig(n_jobs=2, model="tiny.en"), table(INCIDENT_COSTS))
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


# --- the table ----------------------------------------------------------------------------


def test_an_unmeasured_source_or_service_is_refused() -> None:
    t = table(INCIDENT_COSTS)
    other = SimConfig(n_jobs=2, mix=(MixItem("white_noise", 11.0, 1.0),))
    with pytest.raises(ConfigError, match="no measured jobs"):
        simulate(other, t, progress=False)
    with pytest.raises(ConfigError, match="no measured jobs for this service"):
        simulate(SimConfig(n_jobs=2, model="tiny.en", mix=(NOISE,)), t, progress=False)


def test_an_unmeasured_length_scales_from_the_nearest() -> None:
    sampler = Sampler(
        table(INCIDENT_COSTS),
        model="base",
        compute_type="float32",
        decode_hash=remedy("incident").decode.config_hash(),
        gate=False,
    )
    d = sampler.draw("pink_noise", 22.4, 3, np.random.default_rng(0))
    assert list(d.service_s) == [76.0, 76.0, 76.0]
    with pytest.raises(ConfigError, match="measured only"):
        sampler.draw("lang:en", 11.2, 1, np.random.default_rng(0))


def test_a_table_records_which_decodes_sampled_and_what_a_rebuild_cost(tmp_path) -> None:
    like = JobRow(
        job_id="job-0", remedy="incident", status="ok", mix_source="pink_noise",
        mix_length_s=11.2, source="pink_noise 11.2 s (seed 1)", audio_s=11.2, vad_s=0.03,
        decode_wall_s=2.0, decode_stops_s="[0.1]", worker_worker_start_s=0.001,
        worker_killed=False,
    )  # fmt: skip
    settings = {
        "workload_model": "tiny.en", "workload_compute_type": "int8", "remedy_decode_hash": "h",
        "remedy_vad_gate": False,
    }  # fmt: skip
    rows = [
        replace(like, decode_sampled=True, decode_rebuild_s=0.0),
        replace(like, decode_sampled=False, decode_rebuild_s=0.27),
        replace(like, decode_sampled=False, decode_rebuild_s=0.26, worker_killed=True),
    ]
    t = from_workload_rows(jobrows.frame(rows, settings))
    assert list(t["kind"]) == ["job", "rebuild", "job", "rebuild"]  # a killed decode: its rebuild
    assert list(t["sampled"]) == [True, None, False, None]
    assert list(t[t["kind"] == "rebuild"]["service_s"]) == [0.27, 0.26]
    back = load(save(t, tmp_path / "t.csv"))
    sampler = Sampler(back, model="tiny.en", compute_type="int8", decode_hash="h", gate=False)
    d = sampler.draw("pink_noise", 11.2, 50, np.random.default_rng(0))
    assert set(d.sampled) == {True, False}
    assert sampler.rebuild(np.random.default_rng(0)) in (0.27, 0.26)


def test_save_and_load_round_trip(tmp_path) -> None:
    t = table(INCIDENT_COSTS)
    back = load(save(t, tmp_path / "t.csv"))
    assert len(back) == len(t) and set(groups(back)) == set(groups(t))
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "missing.csv")


def test_the_bundled_table_holds_measured_jobs() -> None:
    bundled = load()
    jobs = bundled[bundled["kind"] == "job"]
    assert len(jobs) >= 40 and (jobs["service_s"].dropna() > 0).all()
    assert set(jobs["measured_by"].str.split().str[0]) <= {"calibrate", "from"}


def test_percentile_of_a_large_sample_skips_the_bootstrap_and_brackets_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bootstrapping a simulation's 100,000 latencies took minutes; the order-statistic interval
    needs no resampling at all."""
    import scipy.stats

    from asrlab.stats import percentile

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("bootstrapped a large sample")

    monkeypatch.setattr(scipy.stats, "bootstrap", refuse)
    x = np.random.default_rng(0).exponential(size=100_000)
    est = percentile(x, 99)
    assert est.low < est.value < est.high and est.high - est.low < 0.2
    assert math.isclose(est.value, np.percentile(x, 99))


# --- checked against a real run -------------------------------------------------------------


@pytest.mark.timeout(300)
@pytest.mark.model
@pytest.mark.worker
def test_a_calibrated_twin_predicts_the_real_cascade(worker_processes: None) -> None:
    """tests/scenarios.py's scaled incident, for real and in the twin whose costs were measured
    by `calibrate` on the same two kinds of job: the same statuses, errors and attributions."""
    config = cascade_workload()
    noise, speech = CASCADE_MIX
    measured = calibrate(config, n_jobs=4, respawns=1, progress=False)
    assert {"job", "respawn"} <= set(measured["kind"]) <= {"job", "respawn", "rebuild"}
    jobs = measured[measured["kind"] == "job"]
    assert jobs["sampled"].isin([True, False]).all()  # recorded for every decoded job
    assert jobs["source"].value_counts().to_dict() == {noise.source: 2, speech.source: 2}
    with pytest.raises(ConfigError, match="fewer than the mix's 2 items"):
        calibrate(config, n_jobs=1, progress=False)
    real = run_workload(config, progress=False).rows
    twin = simulate(SimConfig.of(config), measured, progress=False).jobs
    for r in real + twin:
        print(r.simulated, r.status, r.client_error, r.latency_s)
    assert [r.status for r in twin] == [r.status for r in real] == ["failed", "failed"]
    assert twin[1].client_error == "GPU lease timeout: GPU_USAGE_HIGH"
    assert [r.error_type for r in twin] == [r.error_type for r in real]
    assert [r.attribution for r in twin] == [r.attribution for r in real]
    assert [r.attribution for r in real] == ["own_timeout", "cascade"]


# --- the command line -----------------------------------------------------------------------


def test_simulate_prints_the_workload_summary_and_writes_rows(tmp_path) -> None:
    from typer.testing import CliRunner

    from asrlab.cli.main import app

    csv = save(table(INCIDENT_COSTS), tmp_path / "t.csv")
    mix = json.dumps([["pink_noise", 11.2, 1.0], ["lang:en", None, 3.0]])
    args = ["simulate", "--jobs", "400", "--rate", "6", "--table", str(csv), "--mix", mix]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "simulated" in result.output and "remedy incident:" in result.output
    assert "GPU lease timeout: GPU_USAGE_HIGH" in result.output  # a cascade at 6 jobs/min
    rows = pd.read_parquet(tmp_path / "out" / "rows.parquet")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert len(rows) == summary["n_jobs"] == 400 and summary["cascade"] > 0
    bad = CliRunner().invoke(app, [*args, "--preset", "nonsense"])
    assert bad.exit_code == 2 and "no such remedy" in bad.output


def test_calibrate_from_a_run_that_is_not_a_workload_is_refused(tmp_path) -> None:
    from typer.testing import CliRunner

    from asrlab.cli.main import app

    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "results.parquet")
    result = CliRunner().invoke(app, ["calibrate", "--from-run", str(tmp_path)])
    assert result.exit_code == 2 and "no workload rows" in result.output


def test_a_job_draws_from_the_rows_of_its_own_audio_when_measured() -> None:
    t = table(INCIDENT_COSTS)
    incident = remedy("incident").decode.config_hash()
    noise = t[(t["source"] == "pink_noise") & (t["decode_hash"] == incident) & ~t["vad_gate"]]
    looping = noise.iloc[0].to_dict() | {"audio": "pink_noise 11.2 s (seed 7)", "service_s": 99.0}
    t = pd.concat([t, pd.DataFrame([looping])], ignore_index=True)
    sampler = Sampler(t, model="base", compute_type="float32", decode_hash=incident, gate=False)
    audio = [("pink_noise 11.2 s (seed 7)", 11.2)] * 3 + [("pink_noise 11.2 s (seed 8)", 11.2)] * 50
    d = sampler.draw("pink_noise", 11.2, len(audio), np.random.default_rng(0), audio)
    assert list(d.service_s[:3]) == [99.0] * 3  # the measured signal, every time
    assert set(d.service_s[3:]) <= {38.0, 99.0} and 38.0 in set(d.service_s[3:])
    # The label the plan gives a job is the one its real run records.
    from asrlab.workload.sources import load_item, planned_audios

    seeds = (12345, 7, 8)
    for item in (NOISE, SPEECH, MixItem("lang:en", 11.2, 1.0)):
        for seed, (label, seconds) in zip(seeds, planned_audios(item, seeds), strict=True):
            real = load_item(item, seed)
            assert label == real.label
            assert seconds == pytest.approx(len(real.samples) / 16000, abs=0.01)


def test_a_seed_gives_the_same_simulation_in_any_process() -> None:
    """The draws by audio label must not hang on string hashing, which Python randomizes per
    process (PYTHONHASHSEED): a validation rerun in another process drew other costs."""
    code = (
        "from asrlab.sim.core import SimConfig, simulate\n"
        "from asrlab.sim.costs import load\n"
        "from asrlab.workload.traffic import MixItem, WorkloadConfig\n"
        "mix = (MixItem('lang:en', None, 1.0), MixItem('pink_noise', 11.2, 1.0))\n"
        "c = WorkloadConfig(model='tiny.en', compute_type='int8', n_jobs=300, mix=mix)\n"
        "rows = simulate(SimConfig.of(c), load(), progress=False).frame()\n"
        "print(rows['latency_s'].round(6).tolist())\n"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env=os.environ | {"PYTHONHASHSEED": str(k)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for k in (1, 2, 3)
    }
    assert len(outs) == 1 and len(outs.pop()) > 300
