"""Experiment -> one papermill run per point -> one results table, cached.

Every point is cached under ``runs/.cache/<key>/``, the key being the sha256 of the notebook's
bytes, the point's parameters, its repeat index and `asrlab.provenance.fingerprint`: the code
(``git describe`` and a hash of the asrlab source the sweep imports, so any edit counts, in a
dirty tree or an installed copy), the versions of the packages that decode, the CPU and the GPU.
A nightly sweep re-run with nothing changed executes nothing, and a changed value re-runs only
the points it touches. A point
that raises is recorded as failed (never cached) and the others go on. The points run on a runner
(`asrlab.lab.runners`: a local process pool or a Dask cluster). The YAML schema, the run folder and
the exit codes are in experiments/README.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
import uuid
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asrlab import provenance
from asrlab.errors import ConfigError
from asrlab.lab import reports, runners
from asrlab.lab.experiment import (
    Experiment,
    Point,
    canonical,
    cell,
    check_parameters,
    plan_jobs,
)
from asrlab.lab.outcomes import PointOutcome, SweepResult
from asrlab.lab.point import PointCall

if TYPE_CHECKING:
    import pandas as pd  # imported in combine() only: `import asrlab.lab.sweep` stays light


CACHE_DIR = ".cache"
# Added to every row of the combined table, before one ``param_<name>`` per grid/fixed name.
SWEEP_COLUMNS: tuple[str, ...] = ("experiment", "point_id", "repeat", "status", "error", "cached")
SWEEP_COLUMNS += ("cache_key", "point_seconds")


def cache_key(notebook_bytes: bytes, point: Point, code: str) -> str:
    """sha256 of what decides a point's result; ``output_dir`` is not part of it. ``code``: the
    fingerprint of the code and machine (`provenance.fingerprint`, canonical JSON)."""
    parts = [canonical(point.params), str(point.repeat), code]
    return hashlib.sha256(b"\0".join([notebook_bytes, *(p.encode() for p in parts)])).hexdigest()


def run_sweep(
    experiment: Experiment,
    *,
    jobs: int = 1,
    out_dir: Path | None = None,
    force: bool = False,
    runs_root: Path = Path("runs"),
    progress: bool = True,
    scheduler: str | None = None,
    resume: Path | None = None,
) -> SweepResult:
    """Run every point not already cached; write results.parquet, sweep.json and the reports.

    Output goes to ``out_dir`` or ``runs_root/<name>/<timestamp>/``, the cache to
    ``runs_root/.cache/``. ``force`` re-executes cached points (and refreshes their entries).
    ``resume``: an interrupted run folder of this experiment, finished in place: its finished
    points are kept (from the cache, or from the folder itself), the others are run again.
    sweep.json is written when the run starts (``state`` running), when it is interrupted
    (``interrupted``, with the points finished so far) and at the end (``done``).
    ``scheduler``: None runs the points in a local process pool; ``"local"`` on a Dask
    LocalCluster of ``jobs`` workers; ``"tcp://HOST:PORT"`` on that Dask cluster (`lab.cluster`).
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    if resume is not None:
        out_dir = _resumable(resume, experiment)
    declared = check_parameters(experiment)
    jobs, note = plan_jobs(experiment, jobs, declared)
    points, version = experiment.points(), provenance.code_version()
    source = experiment.notebook.read_bytes()
    code = canonical(provenance.fingerprint())
    keys = {p.point_id: cache_key(source, p, code) for p in points}
    cache = runs_root / CACHE_DIR
    if scheduler not in (None, "local"):  # --jobs sizes this machine's pool or LocalCluster only
        note = None
    with runners.connect(scheduler, jobs) as runner:  # a bad address fails before any folder
        jobs, engine = runner.jobs, runner.name
        run_dir = _run_dir(out_dir, runs_root / experiment.name).resolve()
        outcomes = {} if force else _restore(points, keys, cache, run_dir)
        todo = [p for p in points if p.point_id not in outcomes]
        where = provenance.record() if todo else {}
        by_id = {p.point_id: p for p in todo}
        state = {"experiment": experiment.name, "yaml": experiment.spec, "code_version": version}
        _write_json(run_dir / "sweep.json", state | {"state": "running", "points": []})
        calls = [_point_call(p, experiment, run_dir, declared) for p in todo]
        desc = f"sweep {experiment.name}"
        try:
            with (
                contextlib.closing(runner.run(calls)) as runs,
                tqdm(total=len(points), initial=len(outcomes), disable=not progress, desc=desc)
                as bar,
            ):
                for point_id, error, seconds, ran_at in runs:  # ran_at: a Dask worker's
                    p = by_id[point_id]
                    status = "failed" if error else "ok"
                    ran = ran_at or where
                    o = PointOutcome(p, keys[p.point_id], status, error, seconds, False, ran)
                    _write_json(run_dir / "points" / p.point_id / "status.json", _status(o))
                    if not error:  # a failed point is retried next time
                        _store(run_dir / "points" / p.point_id, cache / o.cache_key)
                    outcomes[p.point_id] = o
                    bar.update()
        except BaseException:  # Ctrl-C, SIGTERM, a crash: the folder says how far it got
            done = [_status(o) for o in outcomes.values()]
            _write_json(run_dir / "sweep.json", state | {"state": "interrupted", "points": done})
            raise
    ordered = tuple(outcomes[p.point_id] for p in points)
    n_failed = sum(o.status == "failed" for o in ordered)
    table = combine(experiment, ordered, run_dir)
    wall_s = time.perf_counter() - t0
    counts = (len(todo), len(points) - len(todo), n_failed)
    result = SweepResult(table, run_dir, *counts, wall_s, jobs, ordered, note, engine)
    _write_results(table, run_dir / "results.parquet")
    _write_json(run_dir / "sweep.json", _manifest(experiment, result, version, force))
    reports.write_reports(experiment, result)
    return result


def _resumable(run_dir: Path, experiment: Experiment) -> Path:
    """``--resume RUN_DIR``: the folder, if it is a run of this experiment."""
    blob = _read_json(run_dir / "sweep.json")
    if blob is None:
        raise ConfigError("resume", str(run_dir), "not a run folder (no readable sweep.json)")
    if blob.get("experiment") != experiment.name:
        why = f"a run of {blob.get('experiment')!r}, not of {experiment.name!r}"
        raise ConfigError("resume", str(run_dir), why)
    return run_dir


def _restore(
    points: list[Point], keys: dict[str, str], cache: Path, run_dir: Path
) -> dict[str, PointOutcome]:
    """Each point finished in an earlier sweep: copied from the cache into the run folder, or
    kept where it is when the run folder itself holds it finished under the same key."""
    outcomes = {}
    for p in points:
        folder = run_dir / "points" / p.point_id
        done = _read_json(cache / keys[p.point_id] / "status.json")
        if done is not None and done.get("status") == "ok":
            shutil.copytree(cache / keys[p.point_id], folder, dirs_exist_ok=True)
        else:
            done = _read_json(folder / "status.json") or {}
            if done.get("status") != "ok" or done.get("cache_key") != keys[p.point_id]:
                continue
        seconds, where = done["point_seconds"], done["provenance"]
        o = PointOutcome(p, keys[p.point_id], "ok", None, seconds, True, where)
        _write_json(folder / "status.json", _status(o))
        outcomes[p.point_id] = o
    return outcomes


def _point_call(
    p: Point, experiment: Experiment, run_dir: Path, declared: dict[str, Any]
) -> PointCall:
    """run_point's arguments for ``p``, its folder emptied (``--out DIR`` may hold an older run)."""
    folder = run_dir / "points" / p.point_id
    shutil.rmtree(folder, ignore_errors=True)
    params = dict(p.params)
    params |= {"output_dir": str(folder)} if "output_dir" in declared else {}
    params |= {"repeat": p.repeat} if "repeat" in declared else {}
    return str(experiment.notebook), str(folder), params, p.point_id, experiment.timeout_s


def combine(
    experiment: Experiment, outcomes: tuple[PointOutcome, ...], run_dir: Path
) -> pd.DataFrame:
    """Every point's results.parquet, tagged with the sweep's columns; one row per failed point.

    A notebook column that clashes with a sweep column and holds other values is kept as
    ``nb_<name>`` (the replay notebook's ``status`` is the job's, not the point's). Provenance
    columns are added where the notebook's rows lack them.
    """
    import pandas as pd

    frames = []
    for o in outcomes:
        path = run_dir / "points" / o.point.point_id / "results.parquet"
        rows = pd.read_parquet(path) if o.status == "ok" and path.exists() else pd.DataFrame()
        rows = rows if len(rows) else pd.DataFrame(index=[0])  # every point shows in the table
        flat = {"experiment": experiment.name, **vars(o), **vars(o.point)}
        tags = {c: flat[c] for c in SWEEP_COLUMNS}
        tags |= {f"param_{k}": cell(v) for k, v in o.point.params.items()}
        for name, value in tags.items():
            if name in rows.columns and not (rows[name] == value).all():
                rows = rows.rename(columns={name: f"nb_{name}"})
        rows = rows.assign(**tags)
        frames.append(
            rows.assign(**{k: cell(v) for k, v in o.provenance.items() if k not in rows})
        )
    table = pd.concat(frames, ignore_index=True)
    front = [*SWEEP_COLUMNS, *(f"param_{n}" for n in experiment.parameter_names())]
    return table[front + [c for c in table.columns if c not in front]]


def _write_results(table: pd.DataFrame, path: Path) -> None:
    """Parquet needs one type per column: a column mixing types (1, "a") is written as text."""
    table = table.copy()
    for name in table.columns[table.dtypes == "object"]:
        if len({type(v) for v in table[name] if not _missing(v)}) > 1:
            table[name] = [None if _missing(v) else str(v) for v in table[name]]
    table.to_parquet(path)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _status(o: PointOutcome) -> dict[str, Any]:
    """A point's status.json, and its entry in sweep.json."""
    return asdict(o.point) | {f.name: getattr(o, f.name) for f in fields(o) if f.name != "point"}


def _manifest(e: Experiment, r: SweepResult, version: str, force: bool) -> dict[str, Any]:
    """sweep.json: the YAML as written, the expanded points, their status and timings."""
    counts = {k: v for k, v in vars(r).items() if k not in ("results", "outcomes")}
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() - r.wall_s))
    header = {"experiment": e.name, "description": e.description, "notebook": e.notebook}
    run = {"yaml": e.spec, "code_version": version, "force": force, "started_at": started}
    return header | run | counts | {"state": "done", "points": [_status(o) for o in r.outcomes]}


def _run_dir(out_dir: Path | None, parent: Path) -> Path:
    """``--out DIR`` as given (reused if it exists), else a fresh ``parent/<timestamp>[-n]``."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        return out_dir
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = parent / stamp, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:  # two sweeps in one second
            n += 1
            candidate = parent / f"{stamp}-{n}"


def _store(folder: Path, entry: Path) -> None:
    """Copy a finished point into the cache; a half-copied entry is never visible under its key."""
    staging = entry.with_name(f"{entry.name}.tmp-{uuid.uuid4().hex[:8]}")
    shutil.copytree(folder, staging)
    shutil.rmtree(entry, ignore_errors=True)
    try:
        staging.rename(entry)
    except OSError:  # another sweep stored the same point meanwhile: the same result
        shutil.rmtree(staging, ignore_errors=True)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, blob: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(blob, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
