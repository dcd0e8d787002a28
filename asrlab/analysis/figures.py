"""Figures a person would rather look at than read (seaborn / matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

    from asrlab.decoding.trace import DecodeTrace
    from asrlab.service.rows import JobRow

# One colour per verdict, the same in every figure.
VERDICT_COLOURS = {
    "accepted": "#2ca02c",
    "retry": "#d62728",
    "no_speech": "#7f7f7f",
    "all_failed": "#ff7f0e",
    "stopped": "#17becf",
}


def trace_figure(trace: DecodeTrace, title: str = "") -> Figure:
    """Two panels: where the wall time went (stages in order), and every decoding attempt.

    Left: one bar per stage laid end to end on the time axis, so the share of ``transcribe()``
    against iteration is visible at once. Right: seconds per attempt, coloured by verdict and
    labelled with the tokens generated, so a repetition loop (a tall bar at the token limit)
    stands out.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.patches import Rectangle

    sns.set_theme(style="whitegrid")
    fig, (ax_stages, ax_attempts) = plt.subplots(
        1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [3, 2]}
    )
    rows = [r for r in trace.stage_rows() if r["seconds"] > 0 and r["stage"] != "untraced"]
    start = 0.0
    for i, row in enumerate(rows):
        colour = "#1f77b4" if row["phase"] == "transcribe()" else "#9467bd"
        ax_stages.barh(i, row["seconds"], left=start, color=colour)
        label = f" {row['seconds']:.2f} s"
        ax_stages.text(start + row["seconds"], i, label, va="center", fontsize=8)
        start += row["seconds"]
    ax_stages.set_yticks(range(len(rows)), [f"{r['phase']} {r['stage']}" for r in rows], fontsize=8)
    ax_stages.invert_yaxis()
    ax_stages.set_xlabel("seconds since transcribe() was called")
    ax_stages.set_title(
        f"inside transcribe() {trace.transcribe_s:.2f} s | iterating {trace.iterate_s:.2f} s | "
        f"RTF {trace.rtf:.2f}",
        fontsize=10,
    )
    attempts = trace.attempts
    labels = [f"w{a.window} T={a.temperature:.1f}" for a in attempts]
    colours = [VERDICT_COLOURS.get(a.verdict, "#000000") for a in attempts]
    ax_attempts.bar(range(len(attempts)), [a.seconds for a in attempts], color=colours)
    for i, a in enumerate(attempts):
        ax_attempts.text(i, a.seconds, f"{a.tokens} tok", ha="center", va="bottom", fontsize=8)
    ax_attempts.set_xticks(range(len(attempts)), labels, rotation=45, fontsize=8)
    ax_attempts.set_ylabel("seconds")
    ax_attempts.set_title("decoding attempts (colour: verdict)", fontsize=10)
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in VERDICT_COLOURS.values()]
    ax_attempts.legend(handles, VERDICT_COLOURS.keys(), fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_trace(trace: DecodeTrace, output_dir: str | Path, **provenance: Any) -> dict[str, Path]:
    """Write a trace where a notebook or a sweep can pick it up again.

    Files: ``trace.json`` (everything, with ``provenance``), ``attempts.parquet`` and
    ``stages.parquet`` (one row per attempt / stage, each carrying the config hash).

    Returns:
        The written paths by name.
    """
    import json

    import pandas as pd

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    config_hash = trace.config.get("config_hash", "")
    attempts = pd.DataFrame(trace.attempt_rows())
    if not attempts.empty:
        attempts["failed"] = attempts["failed"].map("; ".join)
    paths = {
        "trace": out / "trace.json",
        "attempts": out / "attempts.parquet",
        "stages": out / "stages.parquet",
    }
    paths["trace"].write_text(
        json.dumps(trace.to_dict() | {"provenance": provenance}, indent=2, default=str)
    )
    attempts.assign(config_hash=config_hash).to_parquet(paths["attempts"])
    pd.DataFrame(trace.stage_rows()).assign(config_hash=config_hash).to_parquet(paths["stages"])
    return paths


def timeline_figure(
    records: dict[str, Any], *, hold_max_s: float | None = None, title: str = ""
) -> Figure:
    """The jobs on one clock: waiting for the lease, holding it, and the worker decoding.

    ``records`` maps a label ("A", "B") to an `asrlab.service.node.JobRecord`. Per job: the lease
    wait, the lease held, and the worker's decode (which, under the legacy guard, runs on after
    the client has been answered); a dashed line marks where the first job's lease became overdue,
    a black tick where each client got its answer. The x axis is seconds since the first job
    was received.
    """
    import matplotlib.pyplot as plt

    origin = min(r.received for r in records.values())
    styles = {  # label -> (colour, vertical offset)
        "waiting for the lease": ("#ff7f0e", -0.2),
        "lease held": ("#1f77b4", -0.2),
        "worker decoding": ("#9467bd", 0.2),
    }
    fig, ax = plt.subplots(figsize=(12, 1.4 + 1.1 * len(records)))
    for row, (label, record) in enumerate(records.items()):
        offset = record.received - origin
        for name, (start, end) in _spans(record.row()).items():
            colour, dy = styles[name]
            if start is not None and end is not None:
                ax.barh(
                    row + dy,
                    end - start,
                    left=offset + start,
                    height=0.35,
                    color=colour,
                    label=name if row == 0 else None,
                )
        answered = offset + record.total_s
        ax.plot([answered, answered], [row - 0.45, row + 0.45], color="black", lw=2)
        verdict = "ok" if record.status == "ok" else (record.client_error or "failed")[:60]
        ax.annotate(
            f"{label}: {verdict}",
            (answered, row - 0.45),
            fontsize=8,
            ha="left",
            va="bottom",
            xytext=(4, 0),
            textcoords="offset points",
            color="#2ca02c" if record.status == "ok" else "#d62728",
        )
    first = next(iter(records.values()))
    granted = first.row().t_lease_granted_s
    if hold_max_s is not None and granted is not None:
        overdue_at = first.received - origin + granted + hold_max_s
        ax.axvline(
            overdue_at, ls="--", color="#7f7f7f", label=f"{next(iter(records))}'s lease overdue"
        )
    ax.set_yticks(range(len(records)), [f"job {k}" for k in records])
    ax.set_ylim(len(records) - 0.4, -0.7)
    ax.set_xlabel("seconds since the first job was received (black tick: the client's answer)")
    ax.legend(loc="lower right", fontsize=8, ncols=4)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _spans(r: JobRow) -> dict[str, tuple[float | None, float | None]]:
    """(start, end) of each bar of `timeline_figure`, seconds since the job was received."""
    refused = r.t_failed_s if r.error_type == "LeaseRejected" else None
    decoded = r.t_segments_done_s if r.t_segments_done_s is not None else r.t_late_result_s
    granted = r.t_lease_granted_s
    return {
        "waiting for the lease": (r.t_vad_done_s, granted if granted is not None else refused),
        "lease held": (granted, r.t_lease_released_s),
        "worker decoding": (r.t_worker_started_s, decoded),
    }


def class_sweep_figure(table: Any, x: str, title: str = "") -> Figure:
    """`evaluate.class_table` rows over one swept knob `x`, one line per audio class.

    Panels: median RTF, worst RTF (both log scale: non-speech runs 10-100x speech), and
    accuracy (speech: WER or CER in %; non-speech: units inserted per clip).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2), constrained_layout=True)
    panels = [
        ("rtf_median", "median RTF (s per audio s)", True),
        ("rtf_worst", "worst RTF", True),
        ("error_rate", "speech: WER / CER (%)", False),
        ("inserted_per_clip", "non-speech: units inserted per clip", False),
    ]
    data = table.assign(error_rate=table["error_rate"] * 100)
    for ax, (column, label, log) in zip(axes, panels, strict=True):
        shown = data.dropna(subset=[column])
        if len(shown):
            sns.lineplot(shown, x=x, y=column, hue="audio_class", marker="o", ax=ax)
        ax.set(ylabel=label, xlabel=x, yscale="log" if log and len(shown) else "linear")
        if ax.get_legend() is not None and ax is not axes[-1]:
            ax.get_legend().remove()
    if title:
        fig.suptitle(title)
    return fig


def length_figure(rows: Any, title: str = "") -> Figure:
    """Cost against audio length (`evaluate` rows with ``length_s`` and ``condition``).

    Panels: RTF, segments, seconds per 30 s window and attempts per window, against length:
    if cost grew with segments, the seconds per window would not depend on the attempts.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2), constrained_layout=True)
    panels = [
        ("rtf", "RTF (s per audio s)"),
        ("n_segments", "segments"),
        ("window_s", "decode s per 30 s window"),
        ("attempts_per_window", "attempts per window"),
    ]
    for ax, (column, label) in zip(axes, panels, strict=True):
        sns.lineplot(rows, x="length_s", y=column, hue="condition", marker="o", ax=ax)
        ax.set(xlabel="audio length (s)", ylabel=label, xscale="log")
        if ax is not axes[-1] and ax.get_legend() is not None:
            ax.get_legend().remove()
    if title:
        fig.suptitle(title)
    return fig


def scoreboard_figure(board: Any, title: str = "", floor_ratio_max: float = 1.5) -> Figure:
    """Remedies on failure rate against p95 latency, coloured by accuracy, peers drawn as
    diamonds, the front circled; beside it each remedy's worst cost against the greedy floor.

    ``board`` is `asrlab.analysis.scoreboard.run`'s first table (needs ``remedy``, ``peer``,
    ``failure_rate``, ``latency_p95_s``, ``error_rate_mean``, ``floor_ratio_worst``, ``pareto``).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, (ax, ax_rtf) = plt.subplots(
        1, 2, figsize=(16, max(5.5, 0.42 * len(board) + 2)), constrained_layout=True
    )
    data = board.assign(
        failure_pct=board["failure_rate"] * 100,
        kind=board["peer"].map({True: "peer", False: "remedy"}),
        mean_error=board["error_rate_mean"].round(3),
    )
    sns.scatterplot(
        data,
        x="latency_p95_s",
        y="failure_pct",
        hue="mean_error",
        style="kind",
        markers={"remedy": "o", "peer": "D"},
        palette="viridis_r",
        s=90,
        ax=ax,
    )
    # The front is over three measures: circled points, not a line through a 2-D projection.
    front = data[data["pareto"]]
    ax.scatter(
        front["latency_p95_s"], front["failure_pct"], s=260, facecolors="none",
        edgecolors="#d62728", label="on the front",
    )  # fmt: skip
    # Remedies crowd where failures are 0 and latency low: labels are stacked, not overlaid.
    order = data.sort_values(["failure_pct", "latency_p95_s"]).reset_index(drop=True)
    for i, row in order.iterrows():
        ax.annotate(
            row["remedy"],
            (row["latency_p95_s"], row["failure_pct"]),
            fontsize=7,
            xytext=(6, 6 + 9 * (i % 4)),
            textcoords="offset points",
            arrowprops={"arrowstyle": "-", "color": "#adb5bd", "lw": 0.5},
        )
    ax.set_xscale("log")
    low, high = float(data["latency_p95_s"].min()), float(data["latency_p95_s"].max())
    ax.set_xticks([t for t in (0.5, 1, 2, 5, 10, 20, 50, 100) if low / 2 <= t <= high * 2])
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(
        xlabel="p95 latency (s, log scale)",
        ylabel="failed jobs (%)",
        title="Pareto front: failures, p95 latency, mean error rate (colour)",
    )
    ax.legend(fontsize=8, loc="upper left")
    bars = data.sort_values("floor_ratio_worst")
    colours = {"remedy": "#4c6ef5", "peer": "#f08c00"}
    sns.barplot(
        bars, y="remedy", x="floor_ratio_worst", hue="kind", palette=colours, dodge=False,
        ax=ax_rtf,
    )  # fmt: skip
    ax_rtf.axvline(floor_ratio_max, ls="--", color="grey", label=f"bar {floor_ratio_max:g}x")
    ax_rtf.set_xscale("log")
    top = 2 * float(bars["floor_ratio_worst"].max())
    ax_rtf.set_xticks([t for t in (1, 1.5, 2, 5, 10, 20, 50, 100) if t <= top])
    ax_rtf.xaxis.set_major_formatter(ScalarFormatter())
    ax_rtf.xaxis.set_minor_formatter(NullFormatter())
    ax_rtf.set(xlabel="worst cost against the greedy floor, noise and hard speech (x)", ylabel="")
    ax_rtf.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def diagnose_figure(rows: Any, title: str = "") -> Figure:
    """One clip under every distinct decode: its cost against the base's, and what it emitted.

    ``rows`` is `asrlab.analysis.diagnose.Diagnosis.rows` (``remedies``, ``peer``, ``vs_base``,
    ``attempts``, ``units``); the first row is the base.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = rows.assign(
        name=rows["remedies"].str.split(", ").str[0],
        kind=rows["peer"].map({True: "peer", False: "remedy"}),
    )
    colours = {"remedy": "#4c6ef5", "peer": "#f08c00"}
    height = max(3.0, 0.38 * len(data) + 1.2)
    fig, (ax, ax_out) = plt.subplots(1, 2, figsize=(13, height), constrained_layout=True)
    sns.barplot(data, y="name", x="vs_base", hue="kind", palette=colours, dodge=False, ax=ax)
    ax.axvline(1.0, ls="--", color="grey")
    for i, row in enumerate(data.itertuples()):
        ax.annotate(f" {row.attempts} att.", (row.vs_base, i), va="center", fontsize=7)
    ax.set(xscale="log", xlabel="cost against the base's decode (x, VAD included)", ylabel="")
    sns.barplot(
        data, y="name", x="units", hue="kind", palette=colours, dodge=False, legend=False,
        ax=ax_out,
    )  # fmt: skip
    ax_out.set(xlabel="units emitted (words, or characters for zh)", ylabel="")
    if title:
        fig.suptitle(title)
    return fig


def timeouts_figure(table: Any, by: list[str], title: str = "") -> Figure:
    """Per point of a timeouts sweep: the share of jobs that succeeded and the seconds of work
    done after deadlines, side by side (``table``: `asrlab.lab.summaries.timeouts`'s)."""
    import matplotlib.pyplot as plt

    labels = [
        ", ".join(f"{c.removeprefix('param_')}={row[c]}" for c in by) for _, row in table.iterrows()
    ]
    height = max(3.0, 0.35 * len(table) + 1.5)
    fig, (ax, ax_after) = plt.subplots(1, 2, figsize=(13, height), constrained_layout=True)
    ax.barh(labels, table["success_rate"], color="#2f9e44")
    ax.set(xlim=(0, 1), xlabel="jobs that succeeded (share)")
    ax_after.barh(labels, table["work_after_deadline_s"], color="#e8590c")
    ax_after.set(xlabel="work done after deadlines (s)", yticklabels=[])
    for axis in (ax, ax_after):
        axis.invert_yaxis()
    if title:
        fig.suptitle(title)
    return fig


def comparison_figure(changes: Any, title: str = "") -> Figure:
    """Run B against run A, one panel per metric: each point's change with its interval, the
    regression threshold dashed (``changes``: a frame of `asrlab.lab.compare.Change` rows)."""
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(changes["metric"]))
    height = max(3.0, 0.3 * changes["point"].nunique() + 1.5)
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(5.5 * len(metrics), height), squeeze=False,
        constrained_layout=True,
    )  # fmt: skip
    colours = {"regression": "#e03131", "improvement": "#2f9e44"}
    for ax, metric in zip(axes[0], metrics, strict=True):
        rows = changes[changes["metric"] == metric]
        y = range(len(rows))
        lower = (rows["change"] - rows["low"]).clip(lower=0)
        upper = (rows["high"] - rows["change"]).clip(lower=0)
        ax.errorbar(
            rows["change"], list(y), xerr=[lower, upper], fmt="none", ecolor="#868e96", capsize=3
        )
        ax.scatter(rows["change"], list(y), c=[colours.get(v, "#495057") for v in rows["verdict"]])
        for threshold in rows["threshold"].dropna().unique()[:1]:
            ax.axvline(threshold, ls="--", color="#e03131")
        ax.set(yticks=list(y), yticklabels=list(rows["point"]), title=metric, xlabel="B against A")
        ax.invert_yaxis()
    if title:
        fig.suptitle(title)
    return fig


def capacity_figure(grid: Any, title: str = "") -> Figure:
    """Success rate and p99 latency over arrival rate x ASR timeout, one column per remedy.

    ``grid`` is `asrlab.sim.capacity.grid`'s table (``remedy``, ``rate_per_min``,
    ``asr_timeout_s``, ``success_rate``, ``latency_p99_s``).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    names = list(dict.fromkeys(grid["remedy"]))
    fig, axes = plt.subplots(
        2, len(names), figsize=(5.2 * len(names), 8.5), squeeze=False, constrained_layout=True
    )
    p99_max = float(grid["latency_p99_s"].max())
    for col, name in enumerate(names):
        mine = grid[grid["remedy"] == name]
        for row, (value, label, cmap, vmin, vmax, fmt) in enumerate(
            [
                ("success_rate", "success rate", "RdYlGn", 0.0, 1.0, ".2f"),
                ("latency_p99_s", "p99 latency (s)", "magma_r", 0.0, p99_max, ".1f"),
            ]
        ):
            table = mine.pivot(index="asr_timeout_s", columns="rate_per_min", values=value)
            sns.heatmap(
                table.sort_index(ascending=False), annot=True, fmt=fmt, cmap=cmap, vmin=vmin,
                vmax=vmax, cbar=col == len(names) - 1, ax=axes[row][col],
                annot_kws={"fontsize": 7},
            )  # fmt: skip
            axes[row][col].set(
                title=f"{name}: {label}", xlabel="arrivals per minute", ylabel="ASR timeout (s)"
            )
    if title:
        fig.suptitle(title)
    return fig


def devices_figure(tried: Any, p99_s: float, title: str = "") -> Figure:
    """p99 latency and success rate against devices, per remedy, with the p99 target.

    ``tried`` is the concatenation of `asrlab.sim.capacity.devices_needed`'s tables with a
    ``remedy`` column.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, (ax, ax_ok) = plt.subplots(1, 2, figsize=(13, 4.8), constrained_layout=True)
    sns.lineplot(tried, x="devices", y="latency_p99_s", hue="remedy", marker="o", ax=ax)
    ax.axhline(p99_s, ls="--", color="grey", label=f"target p99 {p99_s:g} s")
    ax.set(xscale="log", yscale="log", xlabel="devices", ylabel="p99 latency (s)")
    ax.legend(fontsize=8)
    sns.lineplot(tried, x="devices", y="success_rate", hue="remedy", marker="o", ax=ax_ok)
    ax_ok.set(xscale="log", xlabel="devices", ylabel="success rate", ylim=(0, 1.02))
    if title:
        fig.suptitle(title)
    return fig


# One colour per outcome a client of the replay can get (`asrlab.lab.incident.outcome`).
OUTCOME_COLOURS = {
    "ok": "#2b8a3e",
    "ok, not decoded": "#8ce99a",
    "ASR timeout": "#c92a2a",
    "GPU_USAGE_HIGH": "#e8590c",
    "lease timeout": "#f59f00",
    "refused at once": "#fcc419",
    "cancelled": "#7048e8",
}


def replays_figure(replays: Any, title: str = "") -> Figure:
    """The incident's scenarios side by side, one row per remedy: when each client was
    answered and with what.

    ``replays`` is `asrlab.lab.incident.replays`' table (``scenario``, ``remedy``, ``A``,
    ``A s``, ``B``, ``B s``, ``B at s``, ``A deadline s``, ``A overdue at s``,
    ``threshold_scale``). Per remedy two bars on one clock (seconds since A was received): A's
    from 0, B's from its arrival, each as long as its client waited and coloured by what it
    got; a black tick marks A's ASR deadline and a dotted one where A's lease turned overdue,
    so a refusal of B can be read against them. Each scenario has its own time axis: their
    thresholds are scaled to different decodes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    scenarios = sorted(dict.fromkeys(replays["scenario"]), key=lambda s: s != "noise")
    remedies = list(dict.fromkeys(replays["remedy"]))
    fig, axes = plt.subplots(
        1, len(scenarios), figsize=(7.2 * len(scenarios), 1.6 + 0.55 * len(remedies)),
        sharey=True, squeeze=False, constrained_layout=True,
    )  # fmt: skip
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        rows = replays[replays["scenario"] == scenario].drop_duplicates("remedy")
        _replay_panel(ax, rows.set_index("remedy"), remedies)
        scales = list(rows["threshold_scale"].dropna()) if "threshold_scale" in rows else []
        scaled = f", thresholds x{float(scales[0]):.3f}" if scales else ""
        ax.set_title(f"{scenario}: job A {rows['a_source'].iloc[0]}{scaled}", fontsize=10)
        ax.set_xlabel("seconds since A was received")
    axes[0][0].set_yticks(range(len(remedies)), remedies, fontsize=9)
    axes[0][0].invert_yaxis()
    shown = set(replays["A"].dropna()) | set(replays["B"].dropna())
    handles: list[Artist] = [
        Patch(color=c, label=k) for k, c in OUTCOME_COLOURS.items() if k in shown
    ]
    handles += [
        Line2D([], [], color="black", lw=1.5, label="A's ASR deadline"),
        Line2D([], [], color="black", lw=1.2, ls=":", label="A's lease overdue"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 7), fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def _replay_panel(ax: Any, rows: Any, remedies: list[str]) -> None:
    """One scenario's rows: A's bar above B's per remedy, labelled with outcome and seconds."""
    import math

    def finite(value: Any) -> bool:  # a failed replay has no seconds, a missing column None
        return isinstance(value, (int, float)) and math.isfinite(value)

    right = 0.0
    for i, remedy in enumerate(remedies):
        if remedy not in rows.index:
            continue
        row = rows.loc[remedy]
        for dy, job, start in ((-0.19, "A", 0.0), (0.19, "B", row.get("B at s"))):
            seconds, label = row.get(f"{job} s"), row.get(job)
            if not isinstance(label, str):
                continue
            if not (finite(seconds) and finite(start)):
                ax.text(0, i + dy, f" {job}: {label}", va="center", fontsize=8)
                continue
            colour = OUTCOME_COLOURS.get(label, "#868e96")
            ax.barh(i + dy, max(seconds, 0.0), left=start, height=0.34, color=colour)
            text = f" {job} {label} {seconds:.2f} s"
            ax.text(start + seconds, i + dy, text, va="center", fontsize=8)
            right = max(right, start + seconds)
        for key, style in (("A deadline s", "-"), ("A overdue at s", ":")):
            at = row.get(key)
            if finite(at):
                ax.plot([at, at], [i - 0.42, i + 0.02], color="black", lw=1.4, ls=style)
                right = max(right, at)
    ax.set_xlim(0, max(right, 1e-3) * 1.45)  # room for the labels right of the bars
    ax.grid(axis="x", color="#e9ecef")
    ax.set_axisbelow(True)
