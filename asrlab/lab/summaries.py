"""What a sweep's report shows across its points: the table and the figure that answer the
notebook's question (a point's own notebook only sees its own point).

A notebook names its summary in its metadata (``"asrlab": {"summary": "beam_size"}``, read by
`asrlab.lab.notebooks.summary_name`), so the library knows summaries, not notebook files;
`asrlab.lab.reports.write_reports` calls `across_points` with that name and the combined results
table. A notebook that names none gets no such section. Each summary writes its figure into the
run folder and returns Markdown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table of `frame` (no index); floats rounded, NaN shown as '-'."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "-" if math.isnan(value) else f"{value:.{digits}g}"
        return str(value).replace("|", "\\|")

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, rule, *body])


def _ok(results: pd.DataFrame) -> pd.DataFrame:
    return results[results["status"] == "ok"]


def beam_size(results: pd.DataFrame, out_dir: Path) -> str:
    """Audio class x beam: median and worst RTF, attempts per window, WER/CER, insertions."""
    from asrlab.analysis import evaluate, figures

    table = evaluate.class_table(_ok(results), by=["audio_class", "param_beam_size"])
    table = table.rename(columns={"param_beam_size": "beam_size"})
    fig = figures.class_sweep_figure(table, x="beam_size", title="beam_size by audio class")
    fig.savefig(out_dir / "beam_size.png", dpi=110)
    table.to_csv(out_dir / "beam_size_table.csv", index=False)
    return markdown_table(table) + "\n\n![beam_size](beam_size.png)\n"


def audio_length(results: pd.DataFrame, out_dir: Path) -> str:
    """Length x condition x language: RTF, segments, seconds per window, attempts per window."""
    from asrlab.analysis import figures

    rows = _ok(results)
    columns = ["rtf", "n_segments", "windows", "window_s", "attempts_per_window", "error_rate"]
    table = rows.groupby(["condition", "language", "length_s"])[columns].median().reset_index()
    fig = figures.length_figure(rows, title="cost against audio length")
    fig.savefig(out_dir / "audio_length.png", dpi=110)
    table.to_csv(out_dir / "audio_length_table.csv", index=False)
    return markdown_table(table) + "\n\n![audio_length](audio_length.png)\n"


def timeouts(results: pd.DataFrame, out_dir: Path) -> str:
    """One line per point: success, refusals, p95 latency, work after deadline, cascades."""
    params = [c for c in results.columns if c.startswith("param_") and results[c].nunique() > 1]
    columns = ["success_rate", "lease_refusals", "latency_p95_s", "work_after_deadline_s"]
    columns += ["own_timeout", "cascade"]
    table = _ok(results)[[*params, *[c for c in columns if c in results]]]
    table = table.sort_values(params) if params else table
    text = markdown_table(table)
    if params and {"success_rate", "work_after_deadline_s"} <= set(table.columns):
        from asrlab.analysis import figures

        fig = figures.timeouts_figure(table, by=params)
        fig.savefig(out_dir / "timeouts.png", dpi=110)
        text += "\n\n![timeouts](timeouts.png)\n"
    return text


def capacity(results: pd.DataFrame, out_dir: Path) -> str:
    """The simulated grid of every point: success and p99 latency per remedy, as heatmaps."""
    from asrlab.analysis import figures

    rows = _ok(results)
    needed = ["remedy", "rate_per_min", "asr_timeout_s", "success_rate", "latency_p99_s"]
    table = rows[needed].groupby(needed[:3], as_index=False)[needed[3:]].mean()
    figures.capacity_figure(table).savefig(out_dir / "capacity.png", dpi=110)
    return markdown_table(table) + "\n\n![capacity](capacity.png)\n"


def remedies(results: pd.DataFrame, out_dir: Path) -> str:
    """The answer first: the pick table (each remedy against the bars, its paired accuracy and
    what it misses; the first row is the pick), then the scoreboard, best first."""
    text = ""
    if {"d_wer_en", "d_cer_zh"} <= set(results.columns):
        from asrlab.analysis import scoreboard

        rows = _ok(results)
        if {"incident", "batched"} <= set(rows["remedy"]):
            text += "The pick (first row) against the bars:\n\n"
            text += "\n".join(
                f"- {line}" for line in scoreboard.pick_lines(scoreboard.pick_table(rows))
            )
            text += "\n\n"
    columns = [
        "remedy", "peer", "failure_rate", "latency_p95_s", "rtf_worst_noise", "rtf_worst_hard",
        "floor_ratio_worst", "wer_en", "cer_zh", "error_hard", "emitted_per_clip",
        "emitted_share", "known_phrases", "cascade", "pareto",
    ]  # fmt: skip
    rows = _ok(results)
    table = rows[[c for c in columns if c in results]]
    text += markdown_table(table.sort_values(["failure_rate", "latency_p95_s"]))
    needed = {"remedy", "peer", "failure_rate", "latency_p95_s", "error_rate_mean", "pareto"}
    if needed | {"floor_ratio_worst"} <= set(rows.columns):
        from asrlab.analysis import figures

        fig = figures.scoreboard_figure(rows, title="the scoreboard: every remedy and peer")
        fig.savefig(out_dir / "scoreboard.png", dpi=110)
        text += "\n\n![scoreboard](scoreboard.png)\n"
    return text


def incident(results: pd.DataFrame, out_dir: Path) -> str:
    """The incident replayed: per scenario the scale and one compact table of what became of
    jobs A and B under each remedy (`asrlab.lab.incident`, as `asrlab reproduce` prints it),
    then one figure of both scenarios side by side."""
    from asrlab.analysis import figures
    from asrlab.lab import incident as answer

    lines = answer.replays(results)
    figures.replays_figure(lines).savefig(out_dir / "incident.png", dpi=100)
    return answer.markdown(lines, figure="incident.png")


SUMMARIES: dict[str, Callable[[pd.DataFrame, Path], str]] = {
    "incident": incident,
    "beam_size": beam_size,
    "audio_length": audio_length,
    "timeouts": timeouts,
    "remedies": remedies,
    "capacity": capacity,
}


def across_points(name: str | None, results: pd.DataFrame, out_dir: Path) -> str | None:
    """The Markdown section of summary ``name``, or None when there is none by that name or no
    point succeeded. A summary that fails says so in the report instead of losing the sweep."""
    summary = SUMMARIES.get(name or "")
    if summary is None or "status" not in results or not (results["status"] == "ok").any():
        return None
    try:
        return summary(results, out_dir)
    except Exception as e:  # the points' results are already written; report, don't raise
        return f"(the summary across points failed: {type(e).__name__}: {e})"
