"""An experiment YAML as data: validated, expanded into points, checked against its notebook.

The YAML schema is in experiments/README.md: ``notebook``, a ``grid`` of lists (each key an
axis, a ``zip`` group one axis of equal-length lists), ``fixed`` values, ``repeats`` and
``timeout_s`` per point. Every problem is a `ConfigError` naming the field, before anything runs.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from asrlab.audio import evalsets
from asrlab.errors import ConfigError
from asrlab.lab import notebooks, paths

KEYS = ("name", "description", "notebook", "grid", "fixed", "repeats", "timeout_s")
# The runner sets these per point; an experiment that set them would fight it.
RUNNER_PARAMETERS = ("output_dir", "repeat")
# Decoding threads per point; 0 (or a default that is not a literal int) means "all cores".
THREAD_PARAMETERS = ("cpu_threads", "worker_threads")
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
        return [*_names(self.grid), *self.fixed]

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


def canonical(value: Any) -> str:
    """The JSON a cache key and a point hash are taken of: key order and spacing fixed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def cell(value: Any) -> Any:
    """A value one table cell can hold: lists and mappings as canonical JSON."""
    return canonical(value) if isinstance(value, (list, dict)) else value


def find_experiment(name: str) -> Path:
    """A YAML path as given, else ``experiments/<name>.yaml``; the error lists what exists."""
    return paths.find(name, paths.EXPERIMENT_DIR, ".yaml", "experiment")


def load_experiment(path: Path | str) -> Experiment:
    """Read and validate an experiment YAML; the name defaults to the file's stem."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        why = " ".join(str(e).split())  # the parser's several lines, as one
        raise ConfigError("experiment", str(path), f"cannot be read as YAML: {why}") from e
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
    names = [*_names(grid), *fixed]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError("parameter", n, "set more than once across grid, zip and fixed")
        if n in RUNNER_PARAMETERS:
            raise ConfigError("parameter", n, "set by the sweep runner for each point")
    notebook = _resolve_notebook(spec["notebook"], base_dir)
    fixed = _resolve_sets(fixed, base_dir or Path.cwd())
    grid = tuple(tuple(_resolve_sets(a, base_dir or Path.cwd()) for a in axis) for axis in grid)
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


def grid_names(grid: Any) -> tuple[str, ...]:
    """The parameter names of an experiment's ``grid``, zipped groups included, in YAML order."""
    return _names(_parse_grid(grid))


def _names(axes: tuple[Axis, ...]) -> tuple[str, ...]:
    return tuple(name for axis in axes for name in axis[0])


def _values(where: str, values: Any) -> list[Any]:
    if not isinstance(values, list):
        raise ConfigError(where, values, "must be a list of values (write [x] for a single one)")
    if not values:
        raise ConfigError(where, values, "an empty list would make an empty sweep")
    return values


# Parameters that name audio classes or labelled sets: a folder of your own in them ("zh:PATH")
# is relative to the experiment file, since each point runs in its own folder.
SET_PARAMETERS = ("eval_sets", "classes")


def _resolve_sets(params: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    out = dict(params)
    for name in SET_PARAMETERS:
        if isinstance(out.get(name), list):
            out[name] = [
                evalsets.resolved(v, base_dir) if isinstance(v, str) else v for v in out[name]
            ]
    return out


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
