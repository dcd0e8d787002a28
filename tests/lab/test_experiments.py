"""The committed experiments: every YAML parses against its notebook, the smoke sweep runs for
real (with tiny.en), and the workload notebooks run under papermill with small parameters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scenarios import smoke_experiment

from asrlab.lab import notebooks
from asrlab.lab.experiment import check_parameters, load_experiment
from asrlab.lab.outcomes import SweepResult
from asrlab.lab.sweep import run_sweep

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
TINY_MIX = [["lang:en", None, 1.0], ["pink_noise", 6.0, 1.0]]


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_experiment_parses_against_its_notebook(path: Path) -> None:
    experiment = load_experiment(path)
    check_parameters(experiment)  # raises on a parameter the notebook does not declare
    assert experiment.points() and experiment.description


def test_one_experiment_per_notebook() -> None:
    named = {load_experiment(p).notebook.stem for p in EXPERIMENTS.glob("*.yaml")}
    assert named >= {"02_beam_size", "03_audio_length", "04_timeouts", "05_remedies"}


@pytest.mark.timeout(600)
@pytest.mark.kernel
@pytest.mark.slow
def test_smoke_sweep_runs_with_tiny_parameters(smoke_run: SweepResult) -> None:
    """experiments/smoke.yaml as committed, with the model swapped for tiny.en (the session's
    run, tests/conftest.py: tests/lab/test_cluster.py compares a Dask run with it)."""
    result = smoke_run
    table = result.results
    assert (result.n_run, result.n_failed) == (2, 0)
    assert len(table) == 2 * 2  # 2 points (beam 1, 5) x 2 items (one per class)
    assert set(table["param_beam_size"]) == {1, 5}
    assert (table["cfg_beam_size"] == table["param_beam_size"]).all()
    assert set(table["audio_class"]) == {"clean_en", "noise"}
    expected = {
        "experiment", "point_id", "repeat", "status", "error", "cached", "cache_key",
        "item_id", "rtf", "attempts_per_window", "error_rate", "hypothesis", "reference",
        "config_hash", "model_sha256", "seed", "code_version", "cpu",
    }
    assert expected <= set(table.columns)
    assert (table["status"] == "ok").all() and table["model_sha256"].str.len().eq(64).all()
    clean = table[table["audio_class"] == "clean_en"]
    assert (clean["error_rate"] < 0.2).all()
    report = (result.out_dir / "report.md").read_text()
    assert "## Answer" in report and "| clean_en | 1 |" in report
    assert (result.out_dir / "beam_size.png").stat().st_size > 10_000
    runs_root = result.out_dir.parents[1]  # <runs_root>/smoke/<timestamp>
    again = run_sweep(smoke_experiment(), runs_root=runs_root, progress=False)
    assert (again.n_run, again.n_cached) == (0, 2)


@pytest.mark.timeout(300)
@pytest.mark.kernel
def test_audio_length_notebook(tmp_path: Path, kernels: None) -> None:
    params = {"model": "tiny.en", "languages": ["en"], "length_s": 5.0, "condition": "snr10"}
    notebooks.execute("03_audio_length", tmp_path, params | {"output_dir": str(tmp_path)})
    rows = pd.read_parquet(tmp_path / "results.parquet")
    assert len(rows) == 1 and rows["audio_s"].iloc[0] == pytest.approx(5.0)
    assert rows["condition"].iloc[0] == "snr10" and rows["item_id"].iloc[0].startswith("noisy_en")
    assert (tmp_path / "length_point.png").stat().st_size > 10_000


@pytest.mark.timeout(420)
@pytest.mark.kernel
@pytest.mark.slow
def test_remedies_notebook_scores_each_remedy(tmp_path: Path, kernels: None) -> None:
    names = ["incident", "vad_gate", "batched"]
    params = {
        "model": "tiny.en", "compute_type": "int8", "worker_threads": 1, "n_jobs": 3,
        "rate_per_min": 60.0, "clients": 2, "mix": TINY_MIX, "clean_items": 2, "hard_items": 1,
        "noise_items": 1, "remedies": names, "output_dir": str(tmp_path),
        "eval_sets": ["librispeech_test_other_100"], "long_form": False,
    }  # fmt: skip
    notebooks.execute("05_remedies", tmp_path, params)
    board = pd.read_parquet(tmp_path / "results.parquet")
    assert list(board["remedy"]) == names
    assert board["peer"].tolist() == [False, False, True]
    assert (board["n_jobs"] == 3).all() and board["pareto"].any()
    assert board["wer_en"].notna().all() and board["stress_rtf_worst"].gt(0).all()
    # Every remedy is costed against the floor decoded beside it, on noise and hard speech.
    assert board["floor_ratio_worst"].gt(0).all() and board["rtf_worst_hard"].gt(0).all()
    # The gate decodes none of the noise clip, so it emits nothing there.
    gated = pd.read_parquet(tmp_path / "accuracy.parquet").query("remedy == 'vad_gate'")
    noise = gated[gated["audio_class"] == "noise"]
    assert noise["gated_out"].all() and (noise["hyp_words"] == 0).all()
    jobs = pd.read_parquet(tmp_path / "jobs.parquet")
    assert len(jobs) == len(names) * 3 and set(jobs["audio_class"]) <= {"speech", "pink_noise"}
    # Accuracy is paired with the incident preset's on the same two utterances.
    assert board["n_en"].tolist() == [2, 2, 2] and board["d_wer_en"].iloc[0] == 0.0
    pick = pd.read_csv(tmp_path / "pick.csv")
    assert set(pick["remedy"]) == {"incident", "vad_gate"}  # the peer is the bar, not a candidate
    assert {"misses", "accuracy_upper", "d_wer_en_high"} <= set(pick.columns)
    assert (tmp_path / "scoreboard.png").stat().st_size > 10_000


@pytest.mark.timeout(300)
@pytest.mark.kernel
@pytest.mark.slow
def test_capacity_notebook_draws_the_grid_and_sizes_the_fleet(
    tmp_path: Path,
    kernels: None,
) -> None:
    params = {
        "remedies": ["incident", "vad_gate+hard_kill+no_fallback+beam_5"],
        "rates_per_min": [4, 12], "asr_timeouts_s": [10, 30], "n_jobs": 300,
        "target_rate_per_min": 60.0, "target_p99_s": 10.0, "max_devices": 64,
        "output_dir": str(tmp_path),
    }  # fmt: skip
    notebooks.execute("06_capacity", tmp_path, params)
    grid = pd.read_parquet(tmp_path / "results.parquet")
    assert len(grid) == 2 * 2 * 2 and set(grid["n_jobs"]) == {300}
    incident = grid[grid["remedy"] == "incident"].set_index(["rate_per_min", "asr_timeout_s"])
    # More traffic on one device never raises the incident preset's success rate.
    assert incident.loc[(12, 30), "success_rate"] <= incident.loc[(4, 30), "success_rate"]
    tried = pd.read_parquet(tmp_path / "devices.parquet")
    candidate = tried[tried["remedy"] != "incident"]
    assert candidate["devices"].max() > 1  # one device cannot take 60 jobs/min of base float32
    assert (tmp_path / "capacity.png").stat().st_size > 10_000
    assert (tmp_path / "devices.png").stat().st_size > 10_000
