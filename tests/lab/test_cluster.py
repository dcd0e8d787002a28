"""Sweeps on a Dask cluster (asrlab.lab.cluster): the same table as the local pool, failures
recorded, bad parameters and bad addresses refused before anything is submitted.

One LocalCluster of two single-threaded worker processes serves the module, as `dask worker
--nthreads 1 --nworkers 2` would.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import pandas as pd
import psutil
import pytest
from scenarios import smoke_experiment
from typer.testing import CliRunner

from asrlab.cli.main import app
from asrlab.errors import ConfigError
from asrlab.lab import cluster
from asrlab.lab.experiment import Experiment, parse_experiment
from asrlab.lab.outcomes import SweepResult
from asrlab.lab.point import point_environ
from asrlab.lab.runners import LOCAL_POOL
from asrlab.lab.sweep import CACHE_DIR, run_sweep

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "data" / "sweep_probe.ipynb"
# What a point computes: these must not depend on where it ran (timings, host and CPU may).
SAME = [
    "experiment", "point_id", "repeat", "status", "error", "cached", "cache_key",
    "param_beam_size", "param_model", "param_classes", "item_id", "audio_class", "hypothesis",
    "reference", "error_rate", "attempts", "fallbacks", "tokens", "n_segments", "config_hash",
    "model_sha256", "seed", "code_version",
]  # fmt: skip


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, **cluster.NO_DASHBOARD
    ) as local:
        yield local.scheduler_address


def probe(**spec: Any) -> Experiment:
    return parse_experiment({"notebook": str(PROBE), **spec}, default_name="probe")


@pytest.mark.timeout(300)
@pytest.mark.kernel
@pytest.mark.slow
def test_smoke_sweep_on_the_cluster_matches_the_local_pool(
    scheduler: str, tmp_path: Path, smoke_run: SweepResult
) -> None:
    """The session's smoke sweep on the local pool (tests/conftest.py), run again on Dask."""
    local = smoke_run
    dask = run_sweep(
        smoke_experiment(), runs_root=tmp_path / "dask", progress=False, scheduler=scheduler
    )
    assert (dask.n_run, dask.n_failed, local.n_run, local.n_failed) == (2, 0, 2, 0)
    assert len(dask.results) == len(local.results) == 2 * 2  # 2 points x 2 items
    pd.testing.assert_frame_equal(dask.results[SAME], local.results[SAME])
    assert dask.results["hypothesis"].str.contains("sorrow").any()  # a real transcript, compared
    assert set(dask.results.columns) - set(local.results.columns) == {"dask_host"}
    assert (dask.results["dask_host"] == socket.gethostname()).all()
    saved = pd.read_parquet(dask.out_dir / "results.parquet")
    pd.testing.assert_frame_equal(saved[SAME], local.results[SAME])
    manifest = json.loads((dask.out_dir / "sweep.json").read_text())
    assert manifest["scheduler"] == f"dask:{scheduler}" and manifest["n_run"] == 2
    local_manifest = json.loads((local.out_dir / "sweep.json").read_text())
    assert local_manifest["scheduler"] == LOCAL_POOL
    point = dask.outcomes[0].point.point_id
    status = json.loads((dask.out_dir / "points" / point / "status.json").read_text())
    assert status["provenance"]["dask_host"] == socket.gethostname()
    assert (dask.out_dir / "points" / point / "executed.html").exists()
    assert (dask.out_dir / "report.html").exists() and f"on dask:{scheduler}" in dask.summary()
    # The same cache: a re-run on the cluster executes nothing.
    again = run_sweep(smoke_experiment(), runs_root=tmp_path / "dask", scheduler=scheduler)
    assert (again.n_run, again.n_cached) == (0, 2)


@pytest.mark.timeout(120)
@pytest.mark.kernel
@pytest.mark.slow
def test_failing_and_overdue_points_are_recorded_and_the_others_finish(
    scheduler: str, tmp_path: Path,
    kernels: None,
) -> None:
    grid = {"zip": {"x": [1, 2, 3], "fail": [False, True, False], "sleep_s": [0.0, 0.0, 60.0]}}
    spec = {"grid": grid, "timeout_s": 12}
    path = tmp_path / "failing.yaml"
    path.write_text(json.dumps({"notebook": str(PROBE), **spec}))  # JSON is YAML
    args = ["sweep", str(path), "--runs-root", str(tmp_path), "--scheduler", scheduler]
    t0 = time.perf_counter()
    cli = CliRunner().invoke(app, args)
    assert time.perf_counter() - t0 < 60  # the 60 s sleep was cut at 12 s
    assert cli.exit_code == 1, cli.output
    assert "3 points: 3 run, 0 cached, 2 failed" in cli.output
    assert "ValueError: probe failed at x=2" in cli.output and "past its 12 s limit" in cli.output
    out = next((tmp_path / "failing").iterdir())  # runs/<the YAML's stem>/<timestamp>
    table = pd.read_parquet(out / "results.parquet")
    assert table[table["status"] == "ok"]["value"].tolist() == [10, 11]
    assert sorted(table[table["status"] == "failed"]["param_x"]) == [2, 3]
    assert len(list((tmp_path / CACHE_DIR).iterdir())) == 1  # failures are not cached
    leftover = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        if "ipykernel_launcher" in " ".join(proc.info["cmdline"] or []):
            leftover += [proc] if str(tmp_path) in (proc.info["cwd"] or "") else []
    assert leftover == []  # the overdue point's kernel was killed on the worker's host


def test_points_run_without_the_environment_the_nanny_gives_its_workers(scheduler: str) -> None:
    with distributed.Client(scheduler) as client:
        worker = next(iter(client.run(lambda: dict(os.environ)).values()))
        point = client.submit(point_environ, pure=False).result()
    assert worker["MALLOC_TRIM_THRESHOLD_"] == "65536"  # halves decode speed if inherited
    assert not {"MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "PYTHONHASHSEED"} & set(point)
    assert point["PATH"] == worker["PATH"]


@pytest.mark.kernel
def test_local_points_do_not_inherit_what_a_local_cluster_set_here(
    scheduler: str, tmp_path: Path,
    kernels: None,
) -> None:
    """Starting a LocalCluster sets OMP_NUM_THREADS=1 (and more) in this process; a local sweep
    started afterwards, as in a notebook that tried Dask first, must not pass it to its points."""
    assert os.environ.get("OMP_NUM_THREADS") == "1"  # what the module's LocalCluster left here
    result = run_sweep(probe(grid={"x": [1]}), runs_root=tmp_path, progress=False)
    assert result.n_failed == 0
    assert result.results["omp_num_threads"].tolist() == ["", ""]


def test_unknown_parameter_is_refused_before_anything_is_submitted(
    scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected: list[str] = []
    monkeypatch.setattr(cluster, "connect", lambda address, workers: connected.append(address))
    bad = probe(grid={"x": [1], "beam_size": [1, 5]})
    with pytest.raises(ConfigError, match=r"\['beam_size'\].*not declared by sweep_probe"):
        run_sweep(bad, runs_root=tmp_path, scheduler=scheduler)
    assert connected == [] and list(tmp_path.iterdir()) == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (f"tcp://127.0.0.1:{closed_port()}", "no Dask scheduler there"),
        ("localhost", "missing port"),
        ("http://127.0.0.1:8786", "unknown address scheme"),
    ],
)
def test_unreachable_or_malformed_address_fails_with_exit_2(
    address: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 0.2)
    path = tmp_path / "ok.yaml"
    path.write_text(json.dumps({"notebook": str(PROBE), "grid": {"x": [1]}}))
    runs = tmp_path / "runs"
    args = ["sweep", str(path), "--runs-root", str(runs), "--scheduler", address]
    cli = CliRunner().invoke(app, args)
    assert cli.exit_code == 2, cli.output
    lines = cli.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: scheduler=") and message in lines[0]
    assert not runs.exists()  # nothing made, nothing submitted


@pytest.mark.slow  # waits on the wall clock for the deadline it asserts
def test_an_unreachable_scheduler_is_given_up_at_the_connect_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo'd port fails once CONNECT_TIMEOUT_S has passed, not after distributed's own
    connect timeout (30 s)."""
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2.0)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="no Dask scheduler there"):
        with cluster.connect(f"tcp://127.0.0.1:{closed_port()}", workers=1):
            pass
    assert time.perf_counter() - t0 < 10


def test_a_scheduler_without_workers_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    with distributed.LocalCluster(n_workers=0, processes=False, **cluster.NO_DASHBOARD) as empty:
        with pytest.raises(ConfigError, match="has no workers"):
            run_sweep(probe(), runs_root=tmp_path, scheduler=empty.scheduler_address)
    assert list(tmp_path.iterdir()) == []
