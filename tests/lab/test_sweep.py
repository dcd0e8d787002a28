"""Sweeps: the grid, the YAML checks, and real papermill runs of tests/data/sweep_probe.ipynb.

Each probe run starts a kernel (2-4 s here), so the runs are shared: one module-wide cache
(``runs_root``) that the sweeps below build on, in file order.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
from typer.testing import CliRunner

from asrlab.cli.main import app
from asrlab.errors import ConfigError
from asrlab.lab.experiment import (
    Experiment,
    check_parameters,
    load_experiment,
    parse_experiment,
    plan_jobs,
)
from asrlab.lab.outcomes import SweepResult
from asrlab.lab.point import kill_tree
from asrlab.lab.sweep import CACHE_DIR, SWEEP_COLUMNS, cache_key, run_sweep

PROBE = Path(__file__).resolve().parents[1] / "data" / "sweep_probe.ipynb"
ROOT = Path(__file__).resolve().parents[2]


def experiment(**spec: Any) -> Experiment:
    return parse_experiment({"notebook": str(PROBE), **spec}, default_name="probe")


def write_yaml(path: Path, **spec: Any) -> Path:
    path.write_text(json.dumps({"notebook": str(PROBE), **spec}))  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


# 2 combinations x 2 repeats, all succeeding: the sweep the cache tests re-run.
FOUR = {"grid": {"x": [1, 2]}, "fixed": {"y": "b"}, "repeats": 2}


@pytest.fixture(scope="module")
def first(runs_root: Path, kernels: None, slow: None) -> SweepResult:
    return run_sweep(experiment(**FOUR), jobs=2, runs_root=runs_root, progress=False)


# -- the grid and the YAML, no notebook runs ------------------------------------------------------


@pytest.mark.parametrize(
    ("grid", "repeats", "expected"),
    [
        ({}, 1, [{}]),
        ({"x": [1, 2, 3]}, 1, [{"x": 1}, {"x": 2}, {"x": 3}]),
        ({"x": [1, 2], "y": ["a", "b"]}, 1,
         [{"x": 1, "y": "a"}, {"x": 1, "y": "b"}, {"x": 2, "y": "a"}, {"x": 2, "y": "b"}]),
        ({"zip": {"x": [1, 2], "y": ["a", "b"]}}, 1, [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]),
        ({"fail": [False, True], "zip": {"x": [1, 2], "y": ["a", "b"]}}, 1,
         [{"fail": False, "x": 1, "y": "a"}, {"fail": False, "x": 2, "y": "b"},
          {"fail": True, "x": 1, "y": "a"}, {"fail": True, "x": 2, "y": "b"}]),
        ({"zip": [{"x": [1, 2], "y": ["a", "b"]}, {"fail": [False, True]}]}, 1,
         [{"x": 1, "y": "a", "fail": False}, {"x": 1, "y": "a", "fail": True},
          {"x": 2, "y": "b", "fail": False}, {"x": 2, "y": "b", "fail": True}]),
        ({"x": [1, 2]}, 3, [{"x": 1}, {"x": 2}] * 3),
    ],
)  # fmt: skip
def test_grid_expands_as_product_and_zip(
    grid: dict[str, Any], repeats: int, expected: list[dict[str, Any]]
) -> None:
    points = experiment(grid=grid, repeats=repeats).points()
    assert [p.params for p in points] == expected
    # Repeat-major: each combination once, then again (a point's repeats a pass apart).
    combos = len(expected) // repeats
    assert [p.repeat for p in points] == [r for r in range(repeats) for _ in range(combos)]
    assert len({p.point_id for p in points}) == len(points)


def test_point_ids_are_stable_and_fixed_goes_into_every_point() -> None:
    a = experiment(grid={"x": [1, 2]}, fixed={"y": "c"}).points()
    b = experiment(grid={"x": [1, 2]}, fixed={"y": "c"}).points()
    assert [p.point_id for p in a] == [p.point_id for p in b]
    assert a[0].point_id.startswith("000-") and a[1].point_id.endswith("-r0")
    assert all(p.params["y"] == "c" for p in a)
    # Another fixed value is another point, with another id and another cache key.
    c = experiment(grid={"x": [1, 2]}, fixed={"y": "d"}).points()
    assert a[0].point_id != c[0].point_id
    assert cache_key(b"nb", a[0], "v1") != cache_key(b"nb", c[0], "v1")
    assert cache_key(b"nb", a[0], "v1") != cache_key(b"nb", a[0], "v2")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"gird": {"x": [1]}}, "unknown keys"),
        ({"grid": {"x": 1}}, "must be a list"),
        ({"grid": {"x": "abc"}}, "must be a list"),
        ({"grid": {"x": []}}, "empty list"),
        ({"grid": [{"x": [1]}]}, "a mapping"),
        ({"grid": {"zip": {"x": [1, 2], "y": ["a"]}}}, "equal lengths"),
        ({"grid": {"zip": {}}}, "grid.zip"),
        ({"grid": {"x": [1]}, "fixed": {"x": 2}}, "more than once"),
        ({"grid": {"output_dir": ["a"]}}, "set by the sweep runner"),
        ({"fixed": {"repeat": 3}}, "set by the sweep runner"),
        ({"repeats": 0}, "repeats"),
        ({"repeats": 1.5}, "repeats"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"fixed": [1]}, "fixed"),
        ({"name": "has space"}, "folder name"),
        ({"notebook": "no_such_notebook"}, "available: 00_decode_trace"),
        ({"notebook": None}, "notebook"),
    ],
)
def test_bad_experiments_are_config_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        experiment(**spec)


def test_load_experiment_reads_yaml_and_finds_the_notebook_beside_it(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_bytes(PROBE.read_bytes())
    path = tmp_path / "beam.yaml"
    path.write_text("notebook: nb.ipynb\ngrid:\n  x: [1, 2]\n  zip: {y: [a, b], fail: [no, no]}\n")
    loaded = load_experiment(path)
    assert loaded.name == "beam" and loaded.notebook == tmp_path / "nb.ipynb"
    assert len(loaded.points()) == 4
    (tmp_path / "bad.yaml").write_text("grid: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot be read as YAML"):
        load_experiment(tmp_path / "bad.yaml")


def test_unknown_parameter_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\['beam_size'\].*not declared by sweep_probe"):
        run_sweep(experiment(grid={"x": [1], "beam_size": [1, 5]}), runs_root=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no run folder, no cache entry


@pytest.mark.parametrize(
    ("spec", "jobs", "expected"),
    [
        ({}, 2, (2, None)),  # the probe's default cpu_threads = 1
        ({"fixed": {"cpu_threads": 2}}, 2, (1, "--jobs 2 lowered to 1: 1 x 2 threads, 2 cores")),
        (
            {"grid": {"cpu_threads": [1, 0]}},
            3,
            (1, "--jobs 3 lowered to 1: 1 x 2 threads, 2 cores"),
        ),
        ({"fixed": {"cpu_threads": 0}}, 1, (1, None)),
        ({"fixed": {"cpu_threads": 1}}, 4, (2, "--jobs 4 lowered to 2: 2 x 1 threads, 2 cores")),
    ],
)
def test_jobs_times_cpu_threads_never_exceed_cores(
    spec: dict[str, Any], jobs: int, expected: tuple[int, str | None]
) -> None:
    e = experiment(**spec)
    assert plan_jobs(e, jobs, check_parameters(e), cores=2) == expected


@pytest.mark.parametrize(("spec", "jobs"), [({"fixed": {"cpu_threads": 4}}, 1), ({}, 0)])
def test_impossible_thread_plans_are_refused(spec: dict[str, Any], jobs: int) -> None:
    e = experiment(**spec)
    with pytest.raises(ConfigError):
        plan_jobs(e, jobs, check_parameters(e), cores=2)


# -- real runs -----------------------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.slow
def test_first_run_executes_every_point_into_one_table(first: SweepResult) -> None:
    assert (first.n_run, first.n_cached, first.n_failed, first.jobs) == (4, 0, 0, 2)
    table = first.results
    assert len(table) == 4 * 2  # points x rows per point (2 combinations x 2 repeats = 4 points)
    assert list(table.columns[:10]) == [*SWEEP_COLUMNS, "param_x", "param_y"]
    assert (table["status"] == "ok").all() and not table["cached"].any()
    assert table["error"].isna().all() and (table["point_seconds"] > 0).all()
    assert table.groupby(["param_x", "repeat"]).size().to_dict() == {
        (1, 0): 2,
        (1, 1): 2,
        (2, 0): 2,
        (2, 1): 2,
    }
    assert (table["value"] == 10 * table["param_x"] + table["row"]).all()
    assert (table["nb_status"] == "probed").all()  # the notebook's own `status`, kept
    assert table["code_version"].notna().all() and "version_numpy" in table  # provenance
    assert table.equals(table.loc[:, ~table.columns.duplicated()])
    pd.testing.assert_frame_equal(pd.read_parquet(first.out_dir / "results.parquet"), table)


@pytest.mark.kernel
@pytest.mark.slow
def test_run_folder_holds_notebooks_manifest_and_reports(first: SweepResult) -> None:
    out = first.out_dir
    for o in first.outcomes:
        folder = out / "points" / o.point.point_id
        assert (folder / "executed.html").stat().st_size > 10_000
        nb = json.loads((folder / "executed.ipynb").read_text())
        passed = nb["metadata"]["papermill"]["parameters"]
        assert passed == {**o.point.params, "output_dir": str(folder), "repeat": o.point.repeat}
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["yaml"]["grid"] == {"x": [1, 2]} and manifest["n_run"] == 4
    assert [p["status"] for p in manifest["points"]] == ["ok"] * 4
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    for o in first.outcomes:
        png = f"points/{o.point.point_id}/probe.png"
        assert f"]({png})" in md and f'src="{png}"' in page and (out / png).exists()
        assert f'href="points/{o.point.point_id}/executed.html"' in page


def executed_notebooks(run_dir: Path) -> dict[str, bytes]:
    """Each point's executed notebook, by cache key. Papermill stamps every execution with its
    start and end times: the same bytes are the same execution, copied from the cache."""
    points = json.loads((run_dir / "sweep.json").read_text())["points"]
    return {
        p["cache_key"]: (run_dir / "points" / p["point_id"] / "executed.ipynb").read_bytes()
        for p in points
    }


@pytest.mark.kernel
@pytest.mark.slow
def test_second_run_recomputes_nothing(first: SweepResult, runs_root: Path) -> None:
    again = run_sweep(experiment(**FOUR), jobs=2, runs_root=runs_root, progress=False)
    assert (again.n_run, again.n_cached, again.n_failed) == (0, 4, 0)
    assert executed_notebooks(again.out_dir) == executed_notebooks(first.out_dir)  # no kernel
    assert again.out_dir != first.out_dir and again.results["cached"].all()
    same = ["point_id", "cache_key", "value", "point_seconds", "code_version"]
    pd.testing.assert_frame_equal(again.results[same], first.results[same])
    assert (again.out_dir / "points" / again.outcomes[0].point.point_id / "probe.png").exists()


@pytest.mark.kernel
@pytest.mark.slow
def test_changing_a_value_recomputes_only_its_points(
    first: SweepResult, runs_root: Path
) -> None:
    changed = experiment(**{**FOUR, "grid": {"x": [1, 3]}})
    result = run_sweep(changed, jobs=2, runs_root=runs_root, progress=False)
    assert (result.n_run, result.n_cached, result.n_failed) == (2, 2, 0)
    ran = result.results.drop_duplicates("point_id").set_index("param_x")["cached"]
    assert ran.to_dict() == {1: True, 3: False}


@pytest.mark.kernel
@pytest.mark.slow
def test_force_recomputes(first: SweepResult, runs_root: Path) -> None:
    one = experiment(grid={"x": [1]}, fixed={"y": "b"})
    assert run_sweep(one, runs_root=runs_root, progress=False).n_cached == 1
    forced = run_sweep(one, force=True, runs_root=runs_root, progress=False)
    assert (forced.n_run, forced.n_cached) == (1, 0) and not forced.results["cached"].any()


@pytest.mark.kernel
@pytest.mark.slow
def test_a_failing_point_is_recorded_and_the_others_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    kernels: None,
) -> None:
    """ISSUE MUST-SHOW: one point raises inside its notebook; the sweep records it and goes on."""
    spec = {"grid": {"zip": {"x": [1, 2], "fail": [False, True]}}}
    result = run_sweep(experiment(**spec), jobs=2, runs_root=tmp_path, progress=False)
    assert (result.n_run, result.n_cached, result.n_failed) == (2, 0, 1)
    table = result.results
    assert len(table) == 2 + 1  # the good point's two rows, one row for the failed point
    failed = table[table["status"] == "failed"].iloc[0]
    assert failed["error"] == "ValueError: probe failed at x=2" and failed["param_fail"]
    assert table[table["status"] == "ok"]["value"].tolist() == [10, 11]
    folder = result.out_dir / "points" / failed["point_id"]
    assert "probe failed at x=2" in (folder / "executed.ipynb").read_text()  # the traceback
    assert "ValueError: probe failed at x=2" in (result.out_dir / "report.md").read_text()
    assert len(list((tmp_path / CACHE_DIR).iterdir())) == 1  # the failure is not cached

    # The CLI on the same cache: the good point is cached, the failed one is retried (and fails
    # again); --jobs is lowered to what the cores allow; exit code 1.
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    runner = CliRunner()
    path = write_yaml(tmp_path / "failing.yaml", **spec)
    args = ["sweep", str(path), "--runs-root", str(tmp_path), "--jobs", "8"]
    cli = runner.invoke(app, args)
    assert cli.exit_code == 1, cli.output
    assert "2 points: 1 run, 1 cached, 1 failed" in cli.output
    assert "failed 001-" in cli.output and "ValueError: probe failed at x=2" in cli.output
    assert "--jobs 8 lowered to 2: 2 x 1 threads, 2 cores" in cli.output


@pytest.mark.kernel
@pytest.mark.slow
def test_a_point_past_its_timeout_fails_and_its_kernel_is_killed(
    tmp_path: Path,
    kernels: None,
) -> None:
    slow = experiment(grid={"x": [1]}, fixed={"sleep_s": 60.0}, timeout_s=4)
    t0 = time.perf_counter()
    result = run_sweep(slow, runs_root=tmp_path, progress=False)
    assert time.perf_counter() - t0 < 30
    assert result.n_failed == 1 and "PointTimeout" in result.outcomes[0].error
    assert "past its 4 s limit" in result.outcomes[0].error
    leftover = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        if "ipykernel_launcher" in " ".join(proc.info["cmdline"] or []):
            leftover += [proc] if str(tmp_path) in (proc.info["cwd"] or "") else []
    assert leftover == []


def test_kill_tree_reaches_descendants_in_other_sessions() -> None:
    """A notebook's kernel runs in a session of its own and the service's workers under it: the
    tree is found through the parent links, before any of it is killed."""
    grandchild = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', " \
        "'import time; time.sleep(60)'], start_new_session=True); time.sleep(60)"
    parent = subprocess.Popen([sys.executable, "-c", grandchild])
    deadline = time.monotonic() + 10
    while not psutil.Process(parent.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = psutil.Process(parent.pid).children()
    assert os.getsid(child.pid) != os.getsid(parent.pid)
    kill_tree(parent.pid)
    parent.wait(timeout=5)
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def _started_by(marker: str) -> list[int]:
    """Every live process whose environment carries ``marker`` (all a sweep starts inherit it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def _interrupt_then_resume(tmp_path: Path, how: signal.Signals) -> None:
    """Start a two-point sweep, send it ``how`` while its second point runs, find nothing it
    started alive within 5 s, then finish it with --resume: only the unfinished point runs."""
    marker = f"ASRLAB_TEST_SWEEP={uuid.uuid4().hex}"
    path = write_yaml(tmp_path / "two.yaml", grid={"x": [1, 2]}, fixed={"sleep_s": 2.0})
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "asrlab.cli.main", "sweep", str(path), "--out", str(out)]
    cmd += ["--runs-root", str(tmp_path / "runs")]
    env = os.environ | dict([marker.split("=")])
    sweep = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("points/*/status.json"))) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the second point's kernel is starting or running
        assert sweep.poll() is None and len(_started_by(marker)) >= 2
        sweep.send_signal(how)
        t0 = time.monotonic()
        while _started_by(marker) and time.monotonic() - t0 < 5:
            time.sleep(0.1)
        assert _started_by(marker) == [], f"alive {time.monotonic() - t0:.1f} s after {how.name}"
        sweep.wait(timeout=5)
    finally:
        sweep.kill()
    assert sweep.returncode == (-how if how == signal.SIGKILL else 128 + how)
    if how != signal.SIGKILL:
        assert json.loads((out / "sweep.json").read_text())["state"] == "interrupted"
    resumed = subprocess.run(
        [*cmd, "--resume", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "2 points: 1 run, 1 cached, 0 failed" in resumed.stdout
    assert json.loads((out / "sweep.json").read_text())["state"] == "done"
    assert len(pd.read_parquet(out / "results.parquet")) == 4 and (out / "report.html").exists()


SIGNALS = (signal.SIGKILL, signal.SIGTERM)


@pytest.fixture(scope="module")
def interrupted(
    tmp_path_factory: pytest.TempPathFactory, kernels: None, slow: None
) -> Iterator[dict[signal.Signals, Future[None]]]:
    """`_interrupt_then_resume` for each signal, both at once: each is its own processes, folder
    and marker, so together they take about the time of one."""
    with ThreadPoolExecutor(len(SIGNALS)) as pool:
        yield {
            how: pool.submit(_interrupt_then_resume, tmp_path_factory.mktemp(how.name), how)
            for how in SIGNALS
        }


@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", SIGNALS, ids=[s.name for s in SIGNALS])
@pytest.mark.kernel
@pytest.mark.slow
def test_a_killed_sweep_leaves_nothing_running_and_resumes(
    interrupted: dict[signal.Signals, Future[None]], how: signal.Signals
) -> None:
    interrupted[how].result()  # raises what failed in that run


def _sweep_from(site: Path, yaml: Path, runs: Path) -> str:
    """`asrlab sweep` in a fresh process that imports asrlab from ``site``."""
    env = os.environ | {"PYTHONPATH": str(site)}
    cmd = [sys.executable, "-m", "asrlab.cli.main", "sweep", str(yaml), "--runs-root", str(runs)]
    done = subprocess.run(cmd, cwd=site, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _an_edit_recomputes(tmp_path: Path, tree: str) -> None:
    """Sweep one point from a copy of asrlab (an ``installed copy``, or a ``dirty git tree``)
    three times: run, cached, and run again once a comment is added to its source."""
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "asrlab", site / "asrlab", ignore=shutil.ignore_patterns("__pycache__", "audio")
    )
    edited = site / "asrlab" / "stats.py"
    if tree == "dirty git tree":
        git = ["git", "-C", str(site), "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "copy"], check=True)
        edited.write_text(edited.read_text() + "\n# dirty already\n")
    yaml = write_yaml(tmp_path / "one.yaml", grid={"x": [1]})
    runs = tmp_path / "runs"
    assert "1 points: 1 run, 0 cached" in _sweep_from(site, yaml, runs)
    assert "1 points: 0 run, 1 cached" in _sweep_from(site, yaml, runs)
    edited.write_text(edited.read_text() + "\n# an edit that changes no behaviour\n")
    assert "1 points: 1 run, 0 cached" in _sweep_from(site, yaml, runs)
    if tree == "dirty git tree":  # the same describe both times: only the hash told them apart
        versions = {
            json.loads(p.read_text())["provenance"]["code_version"]
            for p in runs.glob(".cache/*/status.json")
        }
        assert len(versions) == 1 and versions.pop().endswith("-dirty")


TREES = ("installed copy", "dirty git tree")


@pytest.fixture(scope="module")
def edited(
    tmp_path_factory: pytest.TempPathFactory, kernels: None, slow: None
) -> Iterator[dict[str, Future[None]]]:
    """`_an_edit_recomputes` for both trees at once (their own copies, caches and processes)."""
    with ThreadPoolExecutor(len(TREES)) as pool:
        yield {
            tree: pool.submit(_an_edit_recomputes, tmp_path_factory.mktemp("site"), tree)
            for tree in TREES
        }


@pytest.mark.timeout(300)
@pytest.mark.parametrize("tree", TREES)
@pytest.mark.kernel
@pytest.mark.slow
def test_a_source_edit_recomputes_a_cached_point(
    edited: dict[str, Future[None]], tree: str
) -> None:
    """The cache key holds a hash of the asrlab source the sweep imports: an edit recomputes
    the point where ``git describe`` cannot see it (a tree already dirty) or does not exist (an
    installed copy); nothing changed, nothing recomputed."""
    edited[tree].result()  # raises what failed in that tree


def test_resume_refuses_a_folder_that_is_not_a_run_of_the_experiment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no readable sweep.json"):
        run_sweep(experiment(grid={"x": [1]}), runs_root=tmp_path, resume=tmp_path)
    (tmp_path / "sweep.json").write_text(json.dumps({"experiment": "other"}))
    with pytest.raises(ConfigError, match="a run of 'other', not of 'probe'"):
        run_sweep(experiment(grid={"x": [1]}), runs_root=tmp_path, resume=tmp_path)


@pytest.mark.kernel
@pytest.mark.slow
def test_cli_reruns_a_finished_sweep_from_cache_in_a_fresh_process(
    first: SweepResult, runs_root: Path, tmp_path: Path
) -> None:
    path = write_yaml(tmp_path / "four.yaml", **FOUR)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "asrlab.cli.main", "sweep", str(path), "--jobs", "2"]
    cmd += ["--runs-root", str(runs_root), "--out", str(out)]
    cache = {o.cache_key: runs_root / CACHE_DIR / o.cache_key for o in first.outcomes}
    cached = {key: (entry / "executed.ipynb").read_bytes() for key, entry in cache.items()}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "4 points: 0 run, 4 cached, 0 failed" in done.stdout
    assert executed_notebooks(out) == cached  # copied, no kernel started
    assert len(pd.read_parquet(out / "results.parquet")) == 8 and (out / "report.html").exists()


# Each bad sweep file ends with one line naming what is wrong, and exit 2, before any point runs.
BAD_FILES = [
    ("unknown notebook", '{"notebook": "no_such_notebook"}', "available: 00_decode_trace"),
    ("a grid with no points", '{"notebook": "PROBE", "grid": {"x": []}}', "empty sweep"),
    (
        "an unknown parameter",
        '{"notebook": "PROBE", "fixed": {"beam_size": 5}}',
        "['beam_size']: not declared by sweep_probe",
    ),
    ("not YAML", "notebook: [unclosed\n  grid: {", "cannot be read as YAML"),
    ("a negative repeat count", '{"notebook": "PROBE", "repeats": -1}', "a whole number >= 1"),
    ("not a mapping", "- just\n- a list\n", "must be a mapping"),
]


@pytest.mark.parametrize(("what", "text", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_every_bad_sweep_file_exits_2_with_one_line(
    tmp_path: Path, what: str, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("PROBE", str(PROBE)))
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["sweep", str(path), "--runs-root", str(runs)])
    assert result.exit_code == 2, (what, result.output)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not runs.exists()  # nothing ran, no folder was made


def test_cli_bad_experiment_exits_2(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "bad.yaml", grid={"x": 1})
    result = CliRunner().invoke(app, ["sweep", str(path), "--runs-root", str(tmp_path)])
    assert result.exit_code == 2 and "must be a list" in result.output
