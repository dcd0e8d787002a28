"""A run that keeps nothing (`simulate_summary`) against one that keeps every row (`simulate`):
the same summary, the same rows on disk, the same attribution as `attribute` gives from the
kept events; the figures the simulator gave before it streamed; and what a job costs in memory."""

from __future__ import annotations

import json
import math
import tracemalloc
from typing import Any

import pandas as pd
import pytest
from test_core import INCIDENT_COSTS, NOISE, SPEECH, table

from asrlab.sim.core import SimConfig, simulate, simulate_summary
from asrlab.sim.costs import load
from asrlab.workload.attribution import attribute

MIX = (NOISE, SPEECH)
# Every policy's paths: cascades and late results (incident), kills, revocations, refusals at
# once, cooperative stops, jobs expiring queued at a worker (2 leases), the VAD gate.
CASES: dict[str, dict[str, Any]] = {
    "incident, 2 devices": dict(n_jobs=600, rate_per_min=20.0, devices=2, clients=8),
    "hard_kill": dict(remedy="hard_kill", n_jobs=400, rate_per_min=8.0),
    "revoke_overdue": dict(remedy="hard_kill+revoke_overdue", n_jobs=400, rate_per_min=8.0),
    "deadline_aware": dict(remedy="deadline_aware", n_jobs=400, rate_per_min=8.0),
    "cooperative": dict(remedy="cooperative", n_jobs=400, rate_per_min=8.0),
    "2 leases a device": dict(n_jobs=400, rate_per_min=8.0, capacity=2),
    "vad_gate": dict(remedy="vad_gate+hard_kill", n_jobs=400, rate_per_min=20.0),
}
COSTS = table(INCIDENT_COSTS, stops=tuple(1.5 * k for k in range(30)), sampled=("pink_noise",))


@pytest.mark.parametrize("case", CASES)
def test_a_streamed_run_summarizes_and_writes_what_a_kept_run_keeps(case: str, tmp_path) -> None:
    config = SimConfig(mix=MIX, seed=3, **CASES[case])
    kept = simulate(config, COSTS, progress=False)
    streamed = simulate_summary(config, COSTS, rows_path=tmp_path / "rows.parquet", progress=False)
    # The line, its error counts in the same order (the command line prints them in that order).
    assert json.dumps(streamed.line) == json.dumps(kept.summary())
    rows, written = kept.frame(), pd.read_parquet(streamed.rows_path)
    assert len(written) == len(rows) and set(rows.columns) <= set(written.columns)
    for column in rows.columns:  # values alike; the types are parquet's (a bool with NaN: null)
        a, b = rows[column].astype(object), written[column].astype(object)
        assert (a.isna() == b.isna()).all(), column
        assert a[a.notna()].tolist() == b[b.notna()].tolist(), column


@pytest.mark.parametrize("case", CASES)
def test_failures_are_attributed_as_attribute_does_from_the_whole_trace(case: str) -> None:
    """Attributed as the run goes (`results.Attributor`), each device's events read once; the
    reference is `workload.attribution.attribute` over the device's rows and all its events."""
    result = simulate(SimConfig(mix=MIX, seed=3, **CASES[case]), COSTS, progress=False)
    rows = result.frame()
    for device, mine in rows.groupby("device"):
        events = [e for e in result.events if e["device"] == device]
        expected = attribute(mine, events)
        assert mine["attribution"].tolist() == expected["attribution"].tolist()
        assert mine["blamed"].tolist() == expected["blamed"].tolist()
    assert rows["attribution"].notna().sum() == (rows["status"] != "ok").sum()


# What `simulate(...).summary()` gave at commit 5535b9c, before the simulator streamed its rows:
# a seed still gives those figures.
BEFORE = [
    (
        dict(n_jobs=3000, rate_per_min=6.0, seed=5),
        "bundled",
        dict(n_ok=2300, own_timeout=98, cascade=196, refused_other=406, lease_refusals=602),
        dict(latency_p50_s=3.473200000000361, latency_p95_s=25.33690000000024, latency_p99_s=30.0),
        (754.2839164531345, 98),
    ),
    (
        dict(
            remedy="vad_gate+hard_kill+no_fallback+beam_5",
            n_jobs=3000,
            rate_per_min=40.0,
            devices=3,
            clients=12,
            seed=5,
        ),
        "bundled",
        dict(n_ok=2995, own_timeout=0, cascade=0, refused_other=5, lease_refusals=5),
        dict(
            latency_p50_s=2.1041999999997643,
            latency_p95_s=4.027543846016906,
            latency_p99_s=5.263134938259907,
        ),
        (0.0, 0),
    ),
    (
        dict(n_jobs=1000, rate_per_min=20.0, mix=MIX, devices=2, seed=5),
        "scripted",
        dict(n_ok=133, own_timeout=161, cascade=222, refused_other=484, lease_refusals=706),
        dict(
            latency_p50_s=8.468476370871429,
            latency_p95_s=33.48520363090636,
            latency_p99_s=44.098418817257404,
        ),
        (2242.0387697699534, 149),
    ),
]


@pytest.mark.parametrize(("fields", "costs", "counts", "latency", "late"), BEFORE)
def test_a_seed_gives_the_figures_it_gave_before_the_rows_were_streamed(
    fields: dict[str, Any],
    costs: str,
    counts: dict[str, int],
    latency: dict[str, float],
    late: tuple[float, int],
) -> None:
    t = load() if costs == "bundled" else table(INCIDENT_COSTS)
    line = simulate_summary(SimConfig(**fields), t, progress=False).line
    assert {k: line[k] for k in counts} == counts
    assert {k: line[k] for k in latency} == pytest.approx(latency, rel=1e-12)
    work_after_s, discarded = late
    assert math.isclose(line["work_after_deadline_s"], work_after_s, rel_tol=1e-12, abs_tol=1e-9)
    assert line["late_results_discarded"] == discarded


def test_a_streamed_run_holds_a_few_numbers_per_job_not_its_row() -> None:
    """Kept, a job cost about 3.5 kB (its row dict, its objects, the arbiter's events, the
    frame); streamed 110-260 bytes at the peak: its arrays, and while the costs are drawn its
    audio's label (a noise job's is its own). A failed job also keeps its error text, which the
    summary counts, so these jobs all succeed. Measured between two run lengths, each of more
    than `stats.LARGE_SAMPLE` jobs (fewer bootstrap their percentiles)."""

    def peak_bytes(n_jobs: int) -> int:
        config = SimConfig(
            remedy="vad_gate+hard_kill", n_jobs=n_jobs, rate_per_min=600.0, devices=60,
            clients=240, mix=MIX,
        )  # fmt: skip
        tracemalloc.start()
        try:
            simulate_summary(config, COSTS, progress=False)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak_bytes(500)  # imports and caches
    per_job = (peak_bytes(9_000) - peak_bytes(5_500)) / 3_500
    assert per_job < 1_000, f"{per_job:.0f} bytes a job"
