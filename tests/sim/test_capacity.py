"""Capacity questions on the twin: the check against real rows, the grid, the fleet size."""

from __future__ import annotations

import pandas as pd
import pytest
from test_core import INCIDENT_COSTS, NOISE, SPEECH, table

from asrlab.errors import ConfigError
from asrlab.sim import capacity
from asrlab.sim.core import SimConfig
from asrlab.workload.traffic import MixItem, WorkloadConfig


def rows(latencies: list[float], ok: int) -> pd.DataFrame:
    n = len(latencies)
    return pd.DataFrame(
        {
            "remedy": ["incident"] * n,
            "job_id": [f"job-{i}" for i in range(n)],
            "status": ["ok"] * ok + ["failed"] * (n - ok),
            "client_error": [None] * ok + ["x"] * (n - ok),
            "latency_s": latencies,
            "lease_wait_s": [0.0] * n,
            "attribution": [None] * ok + ["own_timeout"] * (n - ok),
        }
    )


def test_check_takes_the_median_of_the_replications() -> None:
    real = rows([1.0] * 19 + [10.0], ok=18)
    sims = [rows([1.0] * 19 + [x], ok=k) for x, k in ((10.0, 18), (11.0, 19), (30.0, 17))]
    line = capacity.check(real, sims)
    assert line["success_sim"] == pytest.approx(0.9) and line["success_diff_points"] == 0.0
    assert (line["success_sim_min"], line["success_sim_max"]) == (0.85, 0.95)
    assert line["replications"] == 3 and line["p95_sim_min_s"] < line["p95_sim_max_s"]
    assert line["within"] == (abs(line["p95_diff"]) <= 0.15)
    far = capacity.check(real, [rows([1.0] * 20, ok=10)])
    assert far["success_diff_points"] == pytest.approx(-40.0) and not far["within"]
    with pytest.raises(ConfigError):
        capacity.check(real, [])


def test_the_three_loads_are_shares_of_the_measured_capacity() -> None:
    t = table(INCIDENT_COSTS)
    base = WorkloadConfig(mix=(MixItem("lang:en", None, 1.0),))
    # Speech costs its worker 2 s: 30 jobs a minute.
    assert capacity.capacity_per_min(base, t) == pytest.approx(30.0)
    loads = capacity.validation_workloads(base, ["incident"], t, n_jobs=40, seed=3)
    assert [c.rate_per_min for c in loads.values()] == [9.0, 25.5, 48.0]
    assert {c.n_jobs for c in loads.values()} == {40}


def test_devices_needed_is_the_fewest_that_meet_the_target() -> None:
    t = table(INCIDENT_COSTS)
    base = SimConfig(n_jobs=600, mix=(SPEECH,), remedy="hard_kill")
    found, tried = capacity.devices_needed(base, t, rate_per_min=120.0, p99_s=4.0, most=64)
    assert found is not None and found > 1
    by = tried.set_index("devices")
    assert by.loc[found, "latency_p99_s"] <= 4.0 and by.loc[found, "success_rate"] >= 0.99
    fewer = [d for d in by.index if d < found]
    assert fewer and all(
        by.loc[d, "latency_p99_s"] > 4.0 or by.loc[d, "success_rate"] < 0.99 for d in fewer
    )
    # Noise runs 38 s into a 30 s ASR timeout: no fleet brings p99 under 4 s.
    noisy = SimConfig(n_jobs=200, mix=(NOISE, SPEECH), remedy="incident")
    none, _ = capacity.devices_needed(noisy, t, rate_per_min=60.0, p99_s=4.0, most=16)
    assert none is None


def test_the_grid_has_a_row_per_remedy_rate_and_timeout() -> None:
    t = table(INCIDENT_COSTS)
    base = SimConfig(n_jobs=200, mix=(NOISE, SPEECH))
    out = capacity.grid(
        base, t, remedies=["incident", "hard_kill"], rates_per_min=[2, 8],
        asr_timeouts_s=[20, 60], progress=False,
    )  # fmt: skip
    assert len(out) == 8 and set(out["remedy"]) == {"incident", "hard_kill"}
    at = out[out["remedy"] == "incident"].set_index(["rate_per_min", "asr_timeout_s"])
    # 60 s leave the 38 s noise decode room for a 5 s lease wait; at 20 s every one times out.
    assert at.loc[(2, 60), "own_timeout"] == 0 < at.loc[(2, 20), "own_timeout"]


def test_the_committed_validation_records_every_load_seed_and_its_code() -> None:
    checked = capacity.load_validation()
    assert {"incident", "vad_gate+hard_kill+no_fallback+beam_5"} <= set(checked["remedy"])
    loads = checked["workload"].str.split(" / ").str[-1]
    assert set(loads) == set(capacity.LOADS)
    assert checked["seed"].nunique() >= 2 and checked["code_version"].notna().all()
    # The verdict is the bars applied to the recorded figures, nothing else.
    bars = (checked["success_diff_points"].abs() <= capacity.SUCCESS_POINTS + 1e-9) & (
        checked["p95_diff"].abs() <= capacity.P95_SHARE + 1e-9
    )
    assert (bars == checked["within"]).all()
