"""Experiment YAML -> a grid of points -> one papermill run per point -> one results table.

Every point is cached under ``runs/.cache/<key>/``, the key being the sha256 of the notebook's
bytes, the point's parameters, its repeat index and the code version: a nightly sweep re-run with
nothing changed executes nothing, and a changed value re-runs only the points it touches. A point
that raises is recorded as failed (never cached) and the others go on. The YAML schema, the run
folder and the exit codes are in experiments/README.md.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import yaml

from asrlab import notebooks, provenance
from asrlab.errors import ConfigError, PointTimeout

if TYPE_CHECKING:
    import pandas as pd  # imported in combine() only: `import asrlab.sweep` stays light
    from distributed import Client  # imported by asrlab.cluster, for --scheduler only

KEYS = ("name", "description", "notebook", "grid", "fixed", "repeats", "timeout_s")
# The runner sets these per point; an experiment that set them would fight it.
RUNNER_PARAMETERS = ("output_dir", "repeat")
# Decoding threads per point; 0 (or a default that is not a literal int) means "all cores".
THREAD_PARAMETERS = ("cpu_threads", "worker_threads")
CACHE_DIR = ".cache"
# Added to every row of the combined table, before one ``param_<name>`` per grid/fixed name.
SWEEP_COLUMNS = ("experiment", "point_id", "repeat", "status", "error", "cached")
SWEEP_COLUMNS += ("cache_key", "point_seconds")
LOCAL_POOL = "local-process-pool"  # sweep.json's `scheduler` without --scheduler

Axis = tuple[dict[str, Any], ...]  # the assignments one grid axis walks through


@dataclass(frozen=True)
class Point:
    """One notebook run: its parameters (without ``output_dir`` and ``repeat``) and repeat index.

    ``point_id`` (``"003-1a2b3c-r0"``: combination index, hash of the parameters, repeat) names
    the point's folder; the hash keeps it recognisable when values are added to the grid.
    """

    index: int
    point_id: str
    params: dict[str, Any]
    repeat: int


@dataclass(frozen=True)
class Experiment:
    """A validated experiment YAML; ``grid`` holds one axis per product key or ``zip`` group."""

    name: str
    notebook: Path
    grid: tuple[Axis, ...]
    fixed: dict[str, Any]
    repeats: int = 1
    description: str = ""
    timeout_s: float | None = None
    spec: dict[str, Any] = field(default_factory=dict, compare=False)  # the YAML as written

    def parameter_names(self) -> list[str]:
        return [name for axis in self.grid for name in axis[0]] + list(self.fixed)

    def points(self) -> list[Point]:
        """The cartesian product of the axes (the first varies slowest), times ``repeats``: every
        combination's first repeat, then every second one, ... A point's repeats run a whole
        pass apart, so that a slowdown of the machine for a minute hits one of them, and the
        noise floor `asrlab compare` takes from repeats sees it (run back to back, both repeats
        of one point were once 17 % slower together and flagged a run of the same commit)."""
        combos = []
        for index, combo in enumerate(itertools.product(*self.grid)):
            params = {k: v for assignment in combo for k, v in assignment.items()} | self.fixed
            digest = hashlib.sha256(canonical(params).encode()).hexdigest()[:6]
            combos.append((index, digest, params))
        return [
            Point(index, f"{index:03d}-{digest}-r{r}", params, r)
            for r in range(self.repeats)
            for index, digest, params in combos
        ]


@dataclass(frozen=True)
class PointOutcome:
    """What became of one point in one sweep; a ``cached`` point was not executed this time."""

    point: Point
    cache_key: str
    status: str  # "ok" or "failed"
    error: str | None  # "ValueError: ..." as the notebook raised it
    point_seconds: float  # executing it, when it was computed (cached: the original run)
    cached: bool
    provenance: dict[str, Any]  # provenance.record() where and when it was computed


@dataclass(frozen=True)
class SweepResult:
    """The combined table and the counts ``asrlab sweep`` prints (``n_failed`` <= ``n_run``)."""

    results: pd.DataFrame  # the notebooks' rows, and one row per failed point
    out_dir: Path
    n_run: int
    n_cached: int
    n_failed: int
    wall_s: float
    jobs: int  # points run at once, after the thread guard
    outcomes: tuple[PointOutcome, ...] = ()
    note: str | None = None  # why --jobs was lowered, if it was
    scheduler: str = LOCAL_POOL  # what ran the points: LOCAL_POOL or "dask:<address>"

    def summary(self) -> str:
        lines = [f"note: {self.note}"] if self.note else []
        lines += [f"failed {o.point.point_id}: {o.error}" for o in self.outcomes if o.error]
        on = "" if self.scheduler == LOCAL_POOL else f" on {self.scheduler}"
        lines.append(
            f"{len(self.outcomes)} points: {self.n_run} run, {self.n_cached} cached, "
            f"{self.n_failed} failed in {self.wall_s:.1f} s (jobs {self.jobs}{on}); "
            f"results.parquet, report.html and sweep.json in {self.out_dir}"
        )
        return "\n".join(lines)


def canonical(value: Any) -> str:
    """The JSON a cache key and a point hash are taken of: key order and spacing fixed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def load_experiment(path: Path | str) -> Experiment:
    """Read and validate an experiment YAML; the name defaults to the file's stem."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError("experiment", str(path), f"cannot be read as YAML: {e}") from e
    return parse_experiment(spec, default_name=path.stem, base_dir=path.parent)


def parse_experiment(
    spec: Any, *, default_name: str = "experiment", base_dir: Path | None = None
) -> Experiment:
    """Validate an experiment mapping; every problem is a ConfigError naming the field."""
    if not isinstance(spec, dict):
        raise ConfigError("experiment", spec, "must be a mapping with at least `notebook`")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise ConfigError("experiment", unknown, f"unknown keys; allowed: {', '.join(KEYS)}")
    if not isinstance(spec.get("notebook"), str):
        raise ConfigError("notebook", spec.get("notebook"), "a notebook name or .ipynb path")
    name = str(spec.get("name", default_name))
    if not re.fullmatch(r"[\w.-]+", name):
        raise ConfigError("name", name, "letters, digits, '_', '-' and '.' only (a folder name)")
    repeats = spec.get("repeats", 1)
    if type(repeats) is not int or repeats < 1:
        raise ConfigError("repeats", repeats, "a whole number >= 1")
    timeout_s = spec.get("timeout_s")
    if timeout_s is not None and (type(timeout_s) not in (int, float) or timeout_s <= 0):
        raise ConfigError("timeout_s", timeout_s, "seconds per point, > 0 (or leave it out)")
    fixed = spec.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise ConfigError("fixed", fixed, "a mapping of parameter name -> value")
    grid = _parse_grid(spec.get("grid") or {})
    names = [n for axis in grid for n in axis[0]] + list(fixed)
    for n in names:
        if names.count(n) > 1:
            raise ConfigError("parameter", n, "set more than once across grid, zip and fixed")
        if n in RUNNER_PARAMETERS:
            raise ConfigError("parameter", n, "set by the sweep runner for each point")
    notebook = _resolve_notebook(spec["notebook"], base_dir)
    description = str(spec.get("description", ""))
    timeout_s = None if timeout_s is None else float(timeout_s)
    return Experiment(name, notebook, grid, dict(fixed), repeats, description, timeout_s, spec)


def _parse_grid(grid: Any) -> tuple[Axis, ...]:
    if not isinstance(grid, dict):
        raise ConfigError("grid", grid, "a mapping of parameter name -> list of values")
    axes: list[Axis] = []
    for key, values in grid.items():
        if key != "zip":
            axes.append(tuple({key: v} for v in _values(f"grid.{key}", values)))
            continue
        for group in values if isinstance(values, list) else [values]:
            if not isinstance(group, dict) or not group:
                raise ConfigError("grid.zip", group, "a mapping of name -> list, or a list of them")
            columns = {k: _values(f"grid.zip.{k}", v) for k, v in group.items()}
            lengths = {k: len(v) for k, v in columns.items()}
            if len(set(lengths.values())) > 1:
                raise ConfigError("grid.zip", lengths, "zipped lists need equal lengths")
            rows = zip(*columns.values(), strict=True)
            axes.append(tuple(dict(zip(columns, row, strict=True)) for row in rows))
    return tuple(axes)


def _values(where: str, values: Any) -> list[Any]:
    if not isinstance(values, list):
        raise ConfigError(where, values, "must be a list of values (write [x] for a single one)")
    if not values:
        raise ConfigError(where, values, "an empty list would make an empty sweep")
    return values


def _resolve_notebook(value: str, base_dir: Path | None) -> Path:
    """A path next to the YAML first, then notebooks.notebook_path (a name in notebooks/)."""
    beside = (base_dir or Path.cwd()) / value
    if beside.suffix == ".ipynb" and beside.exists():
        return beside.resolve()
    return notebooks.notebook_path(value).resolve()


def check_parameters(experiment: Experiment) -> dict[str, Any]:
    """The notebook's declared parameters; refuses (before anything runs) a name it lacks."""
    declared = notebooks.declared_parameters(experiment.notebook)
    unknown = [n for n in experiment.parameter_names() if n not in declared]
    if unknown:
        why = f"not declared by {experiment.notebook.name} (it has: {', '.join(declared)})"
        raise ConfigError("parameters", unknown, why)
    return declared


def plan_jobs(
    experiment: Experiment, jobs: int, declared: dict[str, Any], cores: int | None = None
) -> tuple[int, str | None]:
    """Points run at once so that points x decoding threads <= cores: (jobs, note if lowered).

    Points that share cores slow each other and skew every timing they record. ``jobs`` is
    lowered rather than refused, so an unattended nightly still runs; one point that wants more
    threads than there are cores is refused.
    """
    if jobs < 1:
        raise ConfigError("jobs", jobs, "at least 1")
    cores = cores or os.cpu_count() or 1
    most = 1
    for name in (n for n in THREAD_PARAMETERS if n in declared):
        for point in experiment.points():
            value = point.params.get(name, _literal(declared[name].get("default")))
            threads = value if type(value) is int and value > 0 else cores
            if threads > cores:
                raise ConfigError(name, value, f"more threads than the {cores} cores (0: all)")
            most = max(most, threads)
    allowed = max(1, cores // most)
    if jobs <= allowed:
        return jobs, None
    return allowed, f"--jobs {jobs} lowered to {allowed}: {allowed} x {most} threads, {cores} cores"


def _literal(source: Any) -> Any:
    try:
        return ast.literal_eval(str(source))
    except (ValueError, SyntaxError):
        return None


def cache_key(notebook_bytes: bytes, point: Point, code_version: str) -> str:
    """sha256 of what decides a point's result; ``output_dir`` is not part of it."""
    parts = [canonical(point.params), str(point.repeat), code_version]
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
) -> SweepResult:
    """Run every point not already cached; write results.parquet, sweep.json and the reports.

    Output goes to ``out_dir`` or ``runs_root/<name>/<timestamp>/``, the cache to
    ``runs_root/.cache/``. ``force`` re-executes cached points (and refreshes their entries).
    ``scheduler``: None runs the points in a local process pool; ``"local"`` on a Dask
    LocalCluster of ``jobs`` workers; ``"tcp://HOST:PORT"`` on that Dask cluster (asrlab.cluster).
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    declared = check_parameters(experiment)
    jobs, note = plan_jobs(experiment, jobs, declared)
    points, version = experiment.points(), provenance.code_version()
    source = experiment.notebook.read_bytes()
    keys = {p.point_id: cache_key(source, p, version) for p in points}
    cache = runs_root / CACHE_DIR
    engine = LOCAL_POOL if scheduler is None else f"dask:{scheduler}"
    if scheduler not in (None, "local"):  # --jobs sizes this machine's pool or LocalCluster only
        note = None
    with _connect(scheduler, jobs) as (client, jobs):  # a bad address fails before any folder
        run_dir = _run_dir(out_dir, runs_root / experiment.name).resolve()
        outcomes = {} if force else _restore(points, keys, cache, run_dir)
        todo = [p for p in points if p.point_id not in outcomes]
        where = provenance.record() if todo else {}
        runs = _execute(todo, experiment, run_dir, declared, jobs, client)
        desc = f"sweep {experiment.name}"
        with tqdm(total=len(points), initial=len(outcomes), disable=not progress, desc=desc) as bar:
            for p, error, seconds, ran_at in runs:  # ran_at: a Dask worker's provenance
                status = "failed" if error else "ok"
                ran = ran_at or where
                o = PointOutcome(p, keys[p.point_id], status, error, seconds, False, ran)
                _write_json(run_dir / "points" / p.point_id / "status.json", _status(o))
                if not error:  # a failed point is retried next time
                    _store(run_dir / "points" / p.point_id, cache / o.cache_key)
                outcomes[p.point_id] = o
                bar.update()
    ordered = tuple(outcomes[p.point_id] for p in points)
    n_failed = sum(o.status == "failed" for o in ordered)
    table = combine(experiment, ordered, run_dir)
    wall_s = time.perf_counter() - t0
    counts = (len(todo), len(points) - len(todo), n_failed)
    result = SweepResult(table, run_dir, *counts, wall_s, jobs, ordered, note, engine)
    _write_results(table, run_dir / "results.parquet")
    _write_json(run_dir / "sweep.json", _manifest(experiment, result, version, force))
    write_reports(experiment, result)
    return result


def _restore(
    points: list[Point], keys: dict[str, str], cache: Path, run_dir: Path
) -> dict[str, PointOutcome]:
    """Copy each point finished in an earlier sweep from the cache into the run folder."""
    outcomes = {}
    for p in points:
        done = _read_json(cache / keys[p.point_id] / "status.json")
        if done is None or done.get("status") != "ok":
            continue
        folder = run_dir / "points" / p.point_id
        shutil.copytree(cache / keys[p.point_id], folder, dirs_exist_ok=True)
        seconds, where = done["point_seconds"], done["provenance"]
        o = PointOutcome(p, keys[p.point_id], "ok", None, seconds, True, where)
        _write_json(folder / "status.json", _status(o))
        outcomes[p.point_id] = o
    return outcomes


@contextlib.contextmanager
def _connect(scheduler: str | None, jobs: int) -> Iterator[tuple[Client | None, int]]:
    """(Dask client or None, points run at once); None and ``jobs``: the local process pool."""
    if scheduler is None:
        yield None, jobs
        return
    from asrlab import cluster  # imports distributed: only for a sweep that asks for it

    with cluster.connect(scheduler, jobs) as (client, workers):
        yield client, workers


def _execute(
    todo: list[Point],
    experiment: Experiment,
    run_dir: Path,
    declared: dict[str, Any],
    jobs: int,
    client: Client | None = None,
) -> Iterator[tuple[Point, str | None, float, dict[str, Any] | None]]:
    """(point, error text or None, seconds, provenance if a Dask worker ran it) as points finish.

    Always in worker processes, ``jobs`` at once, or one Dask task each on ``client``'s cluster
    (which runs each in a fresh process): papermill chdirs the whole process (threads would race),
    and a point's timeout needs a main thread to raise in.
    """
    if not todo:
        return
    by_id = {p.point_id: p for p in todo}
    calls = [_point_call(p, experiment, run_dir, declared) for p in todo]
    if client is not None:
        from asrlab import cluster

        for point_id, error, seconds, where in cluster.run_points(client, calls):
            yield by_id[point_id], error, seconds, where
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    with ProcessPoolExecutor(
        min(jobs, len(todo)),
        mp_context=context,
        initializer=_use_environ,
        initargs=(point_environ(),),
    ) as pool:
        futures = {pool.submit(run_point, *call): by_id[call[3]] for call in calls}
        for future in as_completed(futures):
            try:
                error, seconds = future.result()
            except Exception as e:  # the worker process itself died (e.g. out of memory)
                error, seconds = f"{type(e).__name__}: {e}", float("nan")
            yield futures[future], error, seconds, None


def point_environ() -> dict[str, str]:
    """This process's environment less what Dask set in it for its own workers' sake.

    A Dask nanny exports ``distributed.nanny.pre-spawn-environ`` (OMP_NUM_THREADS=1,
    MALLOC_TRIM_THRESHOLD_=65536, ...) and PYTHONHASHSEED=6640 into every worker, and a
    ``LocalCluster`` sets them in the process that starts it too. Inherited by a point,
    MALLOC_TRIM_THRESHOLD_ alone nearly doubled a base-model decode here (12 s -> 23 s), and
    OMP_NUM_THREADS=1 changed a noise clip's sampled fallback rungs (2 attempts became 3): a point
    must time and decode as it would in a fresh shell, on the cluster and in the local pool alike.
    A value other than Dask's was set by a person and is kept.
    """
    import dask

    injected = dask.config.get("distributed.nanny.pre-spawn-environ", default={})
    injected = injected | {"PYTHONHASHSEED": 6640}
    return {k: v for k, v in os.environ.items() if k not in injected or v != str(injected[k])}


def _use_environ(environ: dict[str, str]) -> None:
    """Pool-process initializer: the point's kernel inherits ``environ``, nothing else."""
    os.environ.clear()
    os.environ.update(environ)


def _point_call(
    p: Point, experiment: Experiment, run_dir: Path, declared: dict[str, Any]
) -> tuple[str, str, dict[str, Any], str, float | None]:
    """run_point's arguments for ``p``, its folder emptied (``--out DIR`` may hold an older run)."""
    folder = run_dir / "points" / p.point_id
    shutil.rmtree(folder, ignore_errors=True)
    params = dict(p.params)
    params |= {"output_dir": str(folder)} if "output_dir" in declared else {}
    params |= {"repeat": p.repeat} if "repeat" in declared else {}
    return str(experiment.notebook), str(folder), params, p.point_id, experiment.timeout_s


def run_point(
    notebook: str, folder: str, params: dict[str, Any], point_id: str, timeout_s: float | None
) -> tuple[str | None, float]:
    """Execute one point in this (worker) process: (error text or None, seconds)."""
    t0 = time.perf_counter()
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        with _deadline(point_id, timeout_s):
            notebooks.execute(notebook, Path(folder), params)
        return None, time.perf_counter() - t0
    except Exception as e:
        # PapermillExecutionError's str() is the whole traceback; ename/evalue is what failed.
        text = f"{e.ename}: {e.evalue}" if hasattr(e, "ename") else f"{type(e).__name__}: {e}"
        return text, time.perf_counter() - t0


_REALARM_S = 0.5  # once a point is due, its alarm repeats until the run has stopped


@contextlib.contextmanager
def _deadline(point_id: str, timeout_s: float | None) -> Iterator[None]:
    """Raise PointTimeout after ``timeout_s``; kill the kernel the interrupted run leaves behind.

    A run can swallow the alarm's exception: nbclient's asyncio loop logs one raised inside a
    callback and waits on, and jupyter_client's network discovery, while it starts the kernel,
    catches every exception (a full suite twice saw a 4 s point run its whole 60 s). So the
    handler kills the kernel itself, and the alarm repeats every `_REALARM_S` until the run
    stops: a kernel started after a swallowed alarm dies at the next one. Whatever the run then
    raises, or if it returns, it timed out.
    """
    if timeout_s is None:
        yield
        return
    expired = False
    # Only what the run starts is the kernel: a process the caller already had (multiprocessing's
    # resource tracker, a Dask nanny's helpers) lives on.
    spared = frozenset(psutil.Process().children(recursive=True))

    def expire(signum: int, frame: Any) -> None:
        nonlocal expired
        expired = True
        _kill_children(spared)
        raise PointTimeout(point_id, timeout_s)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s, _REALARM_S)
    try:
        yield
    except Exception as e:
        if expired and not isinstance(e, PointTimeout):
            raise PointTimeout(point_id, timeout_s) from e
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if expired:
            _kill_children(spared)  # a kernel started after the last alarm
    if expired:  # every alarm's exception was swallowed on the way out
        raise PointTimeout(point_id, timeout_s)


def _kill_children(spared: frozenset[psutil.Process]) -> None:
    """Kill this process's descendants except ``spared`` (psutil.Process equality is pid and
    start time, so a reused pid is not spared)."""
    # psutil is imported with the module: an import inside the handler can land in the middle
    # of the run's own import of psutil and find it half made.
    for child in psutil.Process().children(recursive=True):
        if child not in spared:
            with contextlib.suppress(psutil.Error):
                child.kill()


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
        tags |= {f"param_{k}": _cell(v) for k, v in o.point.params.items()}
        for name, value in tags.items():
            if name in rows.columns and not (rows[name] == value).all():
                rows = rows.rename(columns={name: f"nb_{name}"})
        rows = rows.assign(**tags)
        frames.append(
            rows.assign(**{k: _cell(v) for k, v in o.provenance.items() if k not in rows})
        )
    table = pd.concat(frames, ignore_index=True)
    front = [*SWEEP_COLUMNS, *(f"param_{n}" for n in experiment.parameter_names())]
    return table[front + [c for c in table.columns if c not in front]]


def _cell(value: Any) -> Any:
    """A value one table cell can hold: lists and mappings as canonical JSON."""
    return canonical(value) if isinstance(value, (list, dict)) else value


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
    return header | run | counts | {"points": [_status(o) for o in r.outcomes]}


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


REPORT = """# Sweep {e.name}

{e.description}

Notebook `{e.notebook}`; {r.wall_s:.1f} s wall, jobs {r.jobs}.

## Summary

| points | run | cached | failed |
|---|---|---|---|
| {n} | {r.n_run} | {r.n_cached} | {r.n_failed} |
{across}
## Points

| point | repeat | parameters | status | cached | seconds | error |
|---|---|---|---|---|---|---|
{points}

## Figures

{figures}
"""


def write_reports(experiment: Experiment, result: SweepResult) -> None:
    """report.md and report.html (the same text): counts, one line per point, every PNG figure.

    Links are relative, so the run folder can be moved, zipped or served as it is.
    """
    points, figures = [], []
    for o in result.outcomes:
        folder = f"points/{o.point.point_id}"
        params = ", ".join(f"{k}={_cell(v)}" for k, v in o.point.params.items())
        link = f"[{o.point.point_id}]({folder}/executed.html)"
        cells = [link, o.point.repeat, params, o.status, o.cached, f"{o.point_seconds:.1f}"]
        cells.append(o.error or "")
        points.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
        for png in sorted((result.out_dir / folder).rglob("*.png")):
            src = png.relative_to(result.out_dir).as_posix()
            figures.append(f"### {o.point.point_id}: {png.name}\n\n![{png.name}]({src})\n")
    from asrlab.summaries import across_points

    lists = {"points": "\n".join(points), "figures": "\n".join(figures)}
    summary = across_points(experiment.notebook.stem, result.results, result.out_dir)
    lists["across"] = f"\n## Across points\n\n{summary}\n" if summary else ""
    text = REPORT.format(e=experiment, r=result, n=len(result.outcomes), **lists)
    (result.out_dir / "report.md").write_text(text, encoding="utf-8")
    (result.out_dir / "report.html").write_text(report_html(text, experiment.name), "utf-8")


def report_html(markdown: str, experiment: str) -> str:
    """report.md's text as report.html: the page `write_reports` and `asrlab compare` write."""
    import mistune  # nbconvert's Markdown renderer

    body = mistune.create_markdown(escape=True, plugins=["table"])(markdown)
    return f"<!doctype html><meta charset='utf-8'><title>Sweep {experiment}</title>\n{body}"
