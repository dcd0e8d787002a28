"""Two sweep runs -> per point and metric: is run B slower or worse than run A beyond the noise?

Points are matched by their grid coordinates (the ``param_<name>`` of each axis in the YAML's
``grid``), never by ``fixed`` values or point ids, so a run whose fixed values differ (a preset
slowed on purpose) still lines up with the baseline. Per point and metric:

- the change is ``B / A`` (timings, counts) or ``B - A`` (rates that may well be 0), with a
  percentile-bootstrap interval (`scipy.stats.bootstrap`) that resamples the point's items, the
  same items on both sides: a change carried by one clip gets a wide interval;
- the noise floor is the largest disagreement between two repeats of one point, over every point
  of either run: what running the same code twice on this machine did, measured the same night;
- a point regresses on a metric when the whole interval lies beyond both the floor and the
  metric's minimum effect in the worse direction. A point present (and ok) in only one run is
  listed, never flagged.

On the shared 2-core lab machine, repeats of one point differed by up to 1.9x in wall clock and
1.08x in the CPU seconds of a single-threaded decode (``point_cpu_s``, one value per point and
repeat, recorded by `asrlab.analysis.evaluate.evaluate_timed`: its interval is the value itself, its
floor carries its noise). That is what lets a nightly see a 1.2-1.3x slower decode there
(experiments/README.md). `asrlab.lab.reports.write_comparison` writes the result into run B.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asrlab.errors import ConfigError
from asrlab.lab.experiment import grid_names
from asrlab.lab.summaries import markdown_table

RATIO, DIFFERENCE = "ratio", "difference"


def _pooled(x: np.ndarray) -> np.ndarray:
    """(..., items, repeats) -> (..., items * repeats)."""
    return x.reshape(*x.shape[:-2], -1)


def _median(x: np.ndarray) -> np.ndarray:
    return np.nanmedian(_pooled(x), axis=-1)


def _mean(x: np.ndarray) -> np.ndarray:
    return np.nanmean(_pooled(x), axis=-1)


def _rate(errors: np.ndarray, ref_len: np.ndarray) -> np.ndarray:
    # Counts add up, rates do not (metrics.ErrorCounts): a corpus rate, not a mean of rates.
    return np.nansum(_pooled(errors), axis=-1) / np.nansum(_pooled(ref_len), axis=-1)


@dataclass(frozen=True)
class Metric:
    """One number per point that `compare_runs` checks.

    Attributes:
        name: its name in the table.
        columns: the results columns `statistic` reads, in its argument order.
        statistic: one array of shape (..., items, repeats) per column -> shape (...).
        scale: ``"ratio"`` (B / A) or ``"difference"`` (B - A, for rates that may be 0).
        min_effect: the smallest change that counts whatever the noise: 0.10 is 10 % on a ratio,
            an absolute amount on a difference.
        rows: ``"all"``, ``"speech"`` (a reference with units) or ``"non_speech"`` (reference "").
        worse: ``"higher"`` or ``"lower"``.
        about: what it is, for the table's legend.
        whole_point: one value covers all of a point's items (CPU seconds): comparable only when
            both runs decoded the same items.
    """

    name: str
    columns: tuple[str, ...]
    statistic: Callable[..., np.ndarray]
    scale: str
    min_effect: float
    rows: str
    worse: str
    about: str
    whole_point: bool = False


# A minimum effect holds off what moves a whole run and not its repeats (run back to back): on the
# shared 2-core lab machine the CPU seconds of unchanged points moved by 0.89-1.02x between runs of
# one commit as the neighbours' load changed (experiments/README.md), so 15 %; wall clock moved
# far more, but its repeats show that and its floor covers it. Seeded counts and transcripts
# repeat exactly: any change beyond a word or an attempt counts.
METRICS = (
    Metric("rtf", ("rtf",), _median, RATIO, 0.10, "all", "higher",
           "median real-time factor (wall clock) over items x repeats"),
    Metric("cpu_s", ("point_cpu_s",), _mean, RATIO, 0.15, "all", "higher",
           "CPU seconds decoding and scoring the point's items, mean over repeats", True),
    Metric("attempts_per_window", ("attempts_per_window",), _mean, RATIO, 0.05, "all", "higher",
           "fallback attempts per 30 s window, mean over items x repeats"),
    Metric("error_rate", ("errors", "ref_len"), _rate, DIFFERENCE, 0.01, "speech", "higher",
           "errors / reference units on speech items (WER; CER for zh)"),
    Metric("inserted_per_clip", ("hyp_words",), _mean, DIFFERENCE, 1.0, "non_speech", "higher",
           "units transcribed per non-speech clip (its right transcript is empty)"),
)  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One run folder: its rows that succeeded, labelled by point, and where it came from."""

    path: Path
    experiment: str
    code_version: str
    started_at: str
    grid: tuple[str, ...]  # the axes points are matched on
    points: tuple[str, ...]  # labels of the points that succeeded, in grid order
    failed: tuple[str, ...]  # labels of points that failed
    rows: pd.DataFrame = field(repr=False, compare=False)  # ok rows, plus a ``point`` column


@dataclass(frozen=True)
class Change:
    """One point and metric: A, B, the change, its interval and the verdict.

    ``change``, ``low``, ``high`` and ``threshold`` are ratios (B / A) or differences (B - A),
    as the metric's scale says; ``verdict`` is ``"regression"``, ``"improvement"``, ``""``
    (within the noise) or ``"n/a"`` (no item to compare on, or a value that is not a number).
    """

    point: str
    metric: str
    a: float
    b: float
    change: float
    low: float
    high: float
    threshold: float
    n_items: int
    verdict: str


@dataclass(frozen=True)
class Comparison:
    """What `compare_runs` found; `markdown` is what ``asrlab compare`` prints."""

    a: Run
    b: Run
    metrics: tuple[Metric, ...]
    floors: dict[str, float]  # per metric: the noise floor (NaN: no point had 2 repeats)
    changes: tuple[Change, ...]
    only_a: tuple[str, ...]  # points ok in A, absent or failed in B
    only_b: tuple[str, ...]
    confidence: float

    @property
    def regressions(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.verdict == "regression")

    def markdown(self) -> str:
        return _markdown(self)

    def to_json(self) -> dict[str, Any]:
        runs = {
            name: {
                k: str(v) if isinstance(v, Path) else v for k, v in vars(r).items() if k != "rows"
            }
            for name, r in (("a", self.a), ("b", self.b))
        }
        metrics = [{k: v for k, v in vars(m).items() if k != "statistic"} for m in self.metrics]
        return runs | {
            "metrics": metrics,
            "floors": self.floors,
            "confidence": self.confidence,
            "changes": [asdict(c) for c in self.changes],
            "only_a": self.only_a,
            "only_b": self.only_b,
            "regressions": len(self.regressions),
        }


def compare_runs(
    a: Path | str,
    b: Path | str,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare run folder `b` against baseline `a` (both written by ``asrlab sweep``).

    Raises:
        ConfigError: a folder that is not a finished run, grids with different axes, no point
            that succeeded in both, or no metric column that both tables hold.
    """
    run_a, run_b = load_run(Path(a)), load_run(Path(b))
    if set(run_a.grid) != set(run_b.grid):
        why = f"A's grid has {list(run_a.grid)}, B's {list(run_b.grid)}: points cannot be matched"
        raise ConfigError("grid", str(run_b.path), why)
    common = [p for p in run_a.points if p in run_b.points]
    if not common:
        why = (
            f"no grid point succeeded in both runs (A: {len(run_a.points)}, B: {len(run_b.points)})"
        )
        raise ConfigError("points", str(run_b.path), why)
    metrics = tuple(
        m for m in METRICS if all(c in r.rows for c in m.columns for r in (run_a, run_b))
    )
    if not metrics or "item_id" not in run_a.rows or "item_id" not in run_b.rows:
        names = ", ".join(c for m in METRICS for c in m.columns)
        raise ConfigError("metrics", str(run_b.path), f"needs item_id and one of: {names}")
    floors = {m.name: noise_floor(m, [run_a, run_b]) for m in metrics}
    boot: dict[str, Any] = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    changes = tuple(
        _change(m, p, _for(m, run_a.rows, p), _for(m, run_b.rows, p), floors[m.name], **boot)
        for p in common
        for m in metrics
    )
    only_a = tuple(p for p in run_a.points if p not in run_b.points)
    only_b = tuple(p for p in run_b.points if p not in run_a.points)
    return Comparison(run_a, run_b, metrics, floors, changes, only_a, only_b, confidence)


def load_run(path: Path) -> Run:
    """A run folder's results.parquet and sweep.json; each row gets its point's label."""
    manifest = path / "sweep.json"
    if not (path / "results.parquet").is_file() or not manifest.is_file():
        raise ConfigError("run", str(path), "not a run folder of `asrlab sweep` (no results)")
    try:
        spec = json.loads(manifest.read_text(encoding="utf-8"))
        table = pd.read_parquet(path / "results.parquet")
    except (OSError, ValueError) as e:
        raise ConfigError("run", str(path), f"cannot be read: {e}") from e
    grid = grid_names((spec.get("yaml") or {}).get("grid") or {})
    missing = [n for n in grid if f"param_{n}" not in table]
    if missing or "status" not in table:
        lacks = ", ".join(f"param_{n}" for n in missing) or "status"
        raise ConfigError("run", str(path), f"results.parquet lacks {lacks}")
    table = table.sort_values("point_id", kind="stable")
    table["point"] = [_label(grid, row) for row in table[[f"param_{n}" for n in grid]].values]
    ok = table["status"] == "ok"
    failed = tuple(dict.fromkeys(table.loc[~ok, "point"]))
    points = tuple(p for p in dict.fromkeys(table.loc[ok, "point"]) if p not in failed)
    rows = table[ok & table["point"].isin(points)]
    experiment, code_version, started_at = (
        str(spec.get(k, "")) for k in ("experiment", "code_version", "started_at")
    )
    return Run(path, experiment, code_version, started_at, grid, points, failed, rows)


def _label(grid: tuple[str, ...], values: Any) -> str:
    """``"model=base, remedy=incident"``: one point's grid coordinates; ``"-"`` for no grid."""
    return ", ".join(f"{n}={v}" for n, v in zip(grid, values, strict=True)) or "-"


def _for(metric: Metric, rows: pd.DataFrame, point: str) -> pd.DataFrame:
    """The point's rows that the metric counts (speech, non-speech or all)."""
    rows = rows[rows["point"] == point]
    if metric.rows == "speech":
        return rows[pd.to_numeric(rows["ref_len"], errors="coerce").fillna(0) > 0]
    if metric.rows == "non_speech":
        return rows[rows["reference"].astype(object).eq("")]
    return rows


def _arrays(metric: Metric, rows: pd.DataFrame, items: list[str]) -> list[np.ndarray]:
    """One (items, repeats) float array per column; NaN where an item lacks a repeat."""
    out = []
    for column in metric.columns:
        values = rows.assign(v=pd.to_numeric(rows[column], errors="coerce"))
        wide = values.pivot_table(index="item_id", columns="repeat", values="v", dropna=False)
        out.append(wide.reindex(items).to_numpy(dtype=float))
    return out


def _compare(scale: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """B / A (0 / 0 is 1: nothing changed; x / 0 is inf) or B - A."""
    if scale == DIFFERENCE:
        return b - a
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = b / a
    return np.where(a == 0, np.where(b == 0, 1.0, np.inf), ratio)


def _quiet(statistic: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # an all-NaN slice is a NaN result, said in the table
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(statistic(*arrays), dtype=float)


def noise_floor(metric: Metric, runs: list[Run]) -> float:
    """The largest spread of `metric` between repeats of one point, over every point of `runs`.

    Spread: max / min of the per-repeat values (ratio metrics) or max - min (differences).
    NaN when no point has two repeats to compare.
    """
    spreads = []
    for run in runs:
        if not all(c in run.rows for c in metric.columns):
            continue
        for point in run.points:
            rows = _for(metric, run.rows, point)
            items = sorted(set(rows["item_id"]))
            arrays = _arrays(metric, rows, items) if items else []
            if not arrays or arrays[0].shape[1] < 2:
                continue
            per_repeat = _quiet(metric.statistic, *(x.T[:, :, None] for x in arrays))
            per_repeat = per_repeat[np.isfinite(per_repeat)]
            if per_repeat.size >= 2:
                low, high = per_repeat.min(), per_repeat.max()
                spreads.append(float(_compare(metric.scale, np.array(low), np.array(high))))
    return max(spreads, default=math.nan)


def _change(
    metric: Metric,
    point: str,
    rows_a: pd.DataFrame,
    rows_b: pd.DataFrame,
    floor: float,
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> Change:
    """The metric at one point in both runs, over the items both hold, with its verdict."""
    from scipy.stats import bootstrap

    items = sorted(set(rows_a["item_id"]) & set(rows_b["item_id"]))
    if metric.whole_point and set(rows_a["item_id"]) != set(rows_b["item_id"]):
        items = []  # seconds over different items: no comparison
    xa, xb = (_arrays(metric, rows, items) if items else [] for rows in (rows_a, rows_b))
    threshold = _threshold(metric, floor)
    a, b = (float(_quiet(metric.statistic, *x)) if items else math.nan for x in (xa, xb))
    change = float(_compare(metric.scale, np.array(a), np.array(b)))
    low = high = change
    if len(items) >= 2 and math.isfinite(change):

        def statistic(index: np.ndarray, axis: int = -1) -> np.ndarray:
            # The same resampled items on both sides: a pair per item, as the runs decoded them.
            stats = [_quiet(metric.statistic, *(v[index] for v in x)) for x in (xa, xb)]
            return _compare(metric.scale, *stats)

        result = bootstrap(
            (np.arange(len(items)),),
            statistic,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method="percentile",  # as asrlab.stats.percentile: BCa fails on ties
            rng=np.random.default_rng(seed),
        )
        low, high = (float(v) for v in result.confidence_interval)
    verdict = _verdict(metric, change, low, high, threshold)
    return Change(point, metric.name, a, b, change, low, high, threshold, len(items), verdict)


def _threshold(metric: Metric, floor: float) -> float:
    """How far the worse bound must go: past the noise floor and past the minimum effect."""
    least = 1.0 + metric.min_effect if metric.scale == RATIO else metric.min_effect
    return least if math.isnan(floor) else max(floor, least)


def _verdict(metric: Metric, change: float, low: float, high: float, threshold: float) -> str:
    if any(math.isnan(v) for v in (change, low, high)):
        return "n/a"
    below = 1.0 / threshold if metric.scale == RATIO else -threshold
    above, under = low > threshold, high < below  # the whole interval on one side
    worse, better = (above, under) if metric.worse == "higher" else (under, above)
    return "regression" if worse else "improvement" if better else ""


def _number(value: float, scale: str | None = None) -> str:
    if math.isnan(value):
        return "-"
    if scale == RATIO:
        return f"{value:.3f}"
    return f"{value:+.3f}" if scale == DIFFERENCE else f"{value:.4g}"


def _markdown(c: Comparison) -> str:
    """Both runs and their code versions, the metrics with their floors, the table, a verdict."""

    runs = pd.DataFrame(
        {
            "run": name,
            "folder": f"`{r.path}`",
            "code": r.code_version,
            "started": r.started_at,
            "points ok": len(r.points),
            "failed": len(r.failed),
        }
        for name, r in (("A", c.a), ("B", c.b))
    )
    matched = f"Points matched on {', '.join(c.a.grid) or 'nothing (one point)'}: "
    matched += f"{len({x.point for x in c.changes})} in both"
    for name, points in (("only in A", c.only_a), ("only in B (not compared)", c.only_b)):
        matched += f"; {name}: {'; '.join(points)}" if points else ""
    rule = (
        "Noise floor: the largest spread between two repeats of one point, over every point of "
        "both runs. A change is flagged when its whole interval (items resampled, "
        f"{c.confidence:.0%}) lies past the threshold (the larger of the floor and the minimum "
        "effect) in the worse direction."
    )
    parts = [f"Run B `{c.b.path}` against run A `{c.a.path}`.", markdown_table(runs)]
    parts += [matched + ".", rule, markdown_table(_legend(c)), markdown_table(_table(c))]
    return "\n\n".join([*parts, _summary(c)]) + "\n"


def _legend(c: Comparison) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": m.name,
            "worse if": m.worse,
            "change": "B / A" if m.scale == RATIO else "B - A",
            "noise floor": _number(c.floors[m.name], m.scale).lstrip("+"),
            "min effect": f"{m.min_effect:.0%}" if m.scale == RATIO else f"{m.min_effect:g}",
            "threshold": _number(_threshold(m, c.floors[m.name]), m.scale).lstrip("+"),
            "what": m.about,
        }
        for m in c.metrics
    )


def _table(c: Comparison) -> pd.DataFrame:
    scales = {m.name: m.scale for m in c.metrics}
    shown = {"regression": "**regression**", "": "within noise"}
    return pd.DataFrame(
        {
            "point": x.point,
            "metric": x.metric,
            "A": _number(x.a),
            "B": _number(x.b),
            "change": _number(x.change, scales[x.metric]),
            f"{c.confidence:.0%} interval": "[{}, {}]".format(
                *(_number(v, scales[x.metric]) for v in (x.low, x.high))
            ),
            "threshold": _number(x.threshold, scales[x.metric]).lstrip("+"),
            "items": x.n_items,
            "verdict": shown.get(x.verdict, x.verdict),
        }
        for x in c.changes
    )


def _summary(c: Comparison) -> str:
    points = list(dict.fromkeys(x.point for x in c.regressions))
    if not points:
        return "No regression: no interval lies wholly past its threshold in the worse direction."
    where = [f"{p} ({', '.join(x.metric for x in c.regressions if x.point == p)})" for p in points]
    return f"**{len(c.regressions)} regression(s) at {len(points)} point(s):** {'; '.join(where)}"
