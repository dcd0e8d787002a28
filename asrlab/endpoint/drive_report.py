"""A drive as notebook 09 shows it: one results row per drive for a sweep, the latency each
status got (CDF), and answers against arrivals over time (throughput).

Over a drive's table (`asrlab.endpoint.driver.DriveResult.frame`): ``latency_s`` is arrival ->
answer as the client saw it, so ``arrival_s + latency_s`` is when the answer came, seconds after
the drive's start.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from asrlab.endpoint.drive_summary import DriveSummary
from asrlab.stats import Estimate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NO_ANSWER = "no answer"  # a job sent whose client got no HTTP status (connection, timeout)
MIN_BIN_S = 1.0  # the answers-per-minute bars count answers in windows at least this long


def results_row(summary: DriveSummary, settings: dict[str, Any]) -> pd.DataFrame:
    """The drive in one row (a sweep point's results.parquet): every figure of ``summary``
    flat (an estimate as ``<name>``, ``<name>_low``, ``<name>_high``), failures by cause as
    ``failed_<cause>``, and ``settings`` (the drive's config row, provenance)."""
    row: dict[str, Any] = {}
    for name in (f.name for f in fields(summary)):
        value = getattr(summary, name)
        if isinstance(value, Estimate):
            row |= {name: value.value, f"{name}_low": value.low, f"{name}_high": value.high}
        elif name != "error_kinds":
            row[name] = value
    row |= {f"failed_{cause}": n for cause, n in summary.failed.items()}
    return pd.DataFrame([row | settings])


def outcomes(table: pd.DataFrame) -> pd.DataFrame:
    """The sent jobs with ``outcome`` (``HTTP 200``, ``HTTP 503``, ..., or `NO_ANSWER`) and
    ``answered_at_s`` (seconds after the drive's start its answer came)."""
    sent = table[table["started_s"].notna()].copy()
    status = pd.to_numeric(sent["http_status"], errors="coerce")
    sent["outcome"] = [NO_ANSWER if math.isnan(s) else f"HTTP {int(s)}" for s in status]
    sent["answered_at_s"] = sent["arrival_s"] + pd.to_numeric(sent["latency_s"])
    return sent


def latency_cdf(table: pd.DataFrame, title: str = "") -> Figure:
    """The latency each client observed (arrival -> answer), one empirical CDF per status: a
    refusal is fast and a timeout slow, and one curve over all would hide both. The grey lines:
    p50, p95 and p99 over every sent job."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    sent = outcomes(table)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    order = sorted(sent["outcome"].unique())
    sns.ecdfplot(sent, x="latency_s", hue="outcome", hue_order=order, stat="proportion", ax=ax)
    for i, (q, style) in enumerate(((50, ":"), (95, "--"), (99, "-."))):
        if len(sent):
            at = float(np.percentile(sent["latency_s"], q))
            ax.axvline(at, ls=style, color="grey", lw=1)
            ax.text(at, 0.04 + 0.08 * i, f" p{q} {at:.1f} s", fontsize=8, color="dimgrey")
    ax.set(xlabel="latency (s): arrival -> answer", ylabel="share of jobs with that status")
    ax.set_title(title or f"{len(sent)} jobs sent", fontsize=10)
    fig.tight_layout()
    return fig


def throughput_figure(table: pd.DataFrame, title: str = "", bin_s: float | None = None) -> Figure:
    """Top: jobs arrived and answered so far, by status, over the drive's clock (the gap between
    arrivals and answers is the backlog). Bottom: answers per minute in windows of ``bin_s``
    (None: a twentieth of the drive, at least `MIN_BIN_S`), stacked by status."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    sent = outcomes(table)
    arrivals = np.sort(pd.to_numeric(table["arrival_s"]).to_numpy(dtype=float))
    end = max(float(sent["answered_at_s"].max()) if len(sent) else 0.0, arrivals.max(initial=0))
    bin_s = bin_s or max(MIN_BIN_S, float(np.ceil(end / 20)))
    edges = np.arange(0.0, end + bin_s, bin_s)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.6), sharex=True)
    _so_far(top, arrivals, end, "arrived", "black")
    palette = dict(zip(sorted(sent["outcome"].unique()), sns.color_palette(), strict=False))
    below = np.zeros(len(edges) - 1)
    for outcome, jobs in sent.groupby("outcome"):
        colour = palette[str(outcome)]
        answered = jobs["answered_at_s"].to_numpy(dtype=float)
        _so_far(top, answered, end, f"answered {outcome}", colour)
        counts, _ = np.histogram(answered, bins=edges)
        per_min = counts * 60.0 / bin_s
        bottom.bar(edges[:-1], per_min, width=bin_s, bottom=below, align="edge", color=colour,
                   label=str(outcome), edgecolor="white")  # fmt: skip
        below += per_min
    top.set(ylabel="jobs so far")
    top.legend(fontsize=8)
    bottom.set(xlabel="seconds since the drive started", ylabel=f"answers / min ({bin_s:g} s bins)")
    top.set_title(title or "arrivals and answers", fontsize=10)
    fig.tight_layout()
    return fig


def _so_far(ax: Any, instants: np.ndarray, end: float, label: str, colour: Any) -> None:
    """A count of events so far: 0 at the start, one step up at each instant, flat to ``end``."""
    at = np.sort(instants)
    x = np.concatenate([[0.0], at, [end]])
    y = np.concatenate([[0], np.arange(1, len(at) + 1), [len(at)]])
    ax.step(x, y, where="post", label=label, color=colour)
