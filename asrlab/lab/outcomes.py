"""What a sweep returns: one `PointOutcome` per point and the `SweepResult` around them.

The records sit below both the sweep that makes them (`asrlab.lab.sweep`) and the reports that
render them (`asrlab.lab.reports`), so neither of those imports the other's caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asrlab.lab import runners
from asrlab.lab.experiment import Point

if TYPE_CHECKING:
    import pandas as pd  # the sweep imports it when it combines: these records stay light


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
    scheduler: str = runners.LOCAL_POOL  # what ran the points: LOCAL_POOL or "dask:<address>"

    def summary(self) -> str:
        lines = [f"note: {self.note}"] if self.note else []
        lines += [f"failed {o.point.point_id}: {o.error}" for o in self.outcomes if o.error]
        on = "" if self.scheduler == runners.LOCAL_POOL else f" on {self.scheduler}"
        lines.append(
            f"{len(self.outcomes)} points: {self.n_run} run, {self.n_cached} cached, "
            f"{self.n_failed} failed in {self.wall_s:.1f} s (jobs {self.jobs}{on}); "
            f"results.parquet, report.html and sweep.json in {self.out_dir}"
        )
        return "\n".join(lines)
