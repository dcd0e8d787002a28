"""A drive's scoreboard: what the load tools report of an endpoint (jobs per minute, RTFx,
latency percentiles), with what they do not: why each failed job failed, and how well the answered
jobs were transcribed.

Pure over the drive's rows (`asrlab.endpoint.driver`): the same table gives the same summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from asrlab.service.rows import Column
from asrlab.stats import Estimate, percentiles
from asrlab.workload.attribution import ATTRIBUTIONS, summarize

LATENCY_QS = (50, 95, 99)
SCORED = {"zh": "cer", "en": "wer"}  # the language of the clip -> the rate that scores it
_NONE = Estimate(math.nan, math.nan, math.nan, 0, 0.95)


@dataclass(frozen=True)
class DriveSummary:
    """One drive in figures.

    Attributes:
        target: the rows' ``remedy``: the server's remedy, or the drive's label.
        jobs, sent, ok: jobs planned, sent (the rest ran out of the drive's time), answered 200.
        own_timeout, cascade, refused_other, bad_input, transport: failed jobs by cause
            (`asrlab.workload.attribution.attribute`).
        jobs_per_min: ok jobs per minute of the drive's wall time.
        rtfx: seconds of audio of the ok jobs per second of the drive's wall time.
        latency_p50_s, latency_p95_s, latency_p99_s: the latency the client observed (arrival
            -> answer, success or error, of every sent job), with 95 % intervals.
        cer, wer: mean error rates of the ok jobs with a reference that has words (Mandarin
            clips by characters, English by words); NaN where none; ``cer_clips``,
            ``wer_clips`` how many.
        lost, duplicated: planned jobs without an answer, answers beyond one per job.
        wall_s: the drive's wall time, first arrival -> last answer.
        error_kinds: failed jobs' client texts with job ids and numbers masked, counted.
    """

    target: str
    jobs: int
    sent: int
    ok: int
    own_timeout: int
    cascade: int
    refused_other: int
    bad_input: int
    transport: int
    jobs_per_min: float
    rtfx: float
    latency_p50_s: Estimate
    latency_p95_s: Estimate
    latency_p99_s: Estimate
    cer: float
    cer_clips: int
    wer: float
    wer_clips: int
    lost: int
    duplicated: int
    wall_s: float
    error_kinds: Mapping[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> dict[str, int]:
        """Failed jobs by cause, in `ATTRIBUTIONS`' order."""
        return {name: int(getattr(self, name)) for name in ATTRIBUTIONS}


def summarize_drive(
    table: pd.DataFrame, wall_s: float, *, lost: int = 0, duplicated: int = 0
) -> DriveSummary:
    """The summary of a drive's table (`DriveResult.frame`, attributed)."""
    c = Column
    ok = table[c.status] == "ok"
    sent = table["started_s"].notna()
    line = summarize(table)  # the attribution counts and error kinds, as a workload's
    latency = pd.to_numeric(table.loc[sent, c.latency_s], errors="coerce").dropna().to_numpy()
    found = percentiles(latency, LATENCY_QS) if len(latency) else {}
    audio_s = float(pd.to_numeric(table.loc[ok, c.audio_s]).fillna(0.0).sum())
    rates = error_rates(table[ok])
    per_s = 1.0 / wall_s if wall_s > 0 else math.nan
    return DriveSummary(
        target=str(table[c.remedy].iloc[0]) if len(table) else "",
        jobs=len(table),
        sent=int(sent.sum()),
        ok=int(ok.sum()),
        **{name: int(line[name]) for name in ATTRIBUTIONS},
        jobs_per_min=60.0 * float(ok.sum()) * per_s,
        rtfx=audio_s * per_s,
        latency_p50_s=found.get("p50", _NONE),
        latency_p95_s=found.get("p95", _NONE),
        latency_p99_s=found.get("p99", _NONE),
        cer=rates["cer"][0],
        cer_clips=rates["cer"][1],
        wer=rates["wer"][0],
        wer_clips=rates["wer"][1],
        lost=lost,
        duplicated=duplicated,
        wall_s=wall_s,
        error_kinds=dict(line["error_kinds"]),
    )


def error_rates(answered: pd.DataFrame) -> dict[str, tuple[float, int]]:
    """Mean CER (Mandarin) and WER (English) over ``answered`` rows whose reference has words,
    with how many clips each mean is of."""
    from asrlab.analysis.metrics import error_rate  # jiwer and the normalisers: when scoring

    scores: dict[str, list[float]] = {name: [] for name in SCORED.values()}
    for reference, text, language in zip(
        answered["reference"], answered["text"], answered["language"], strict=True
    ):
        if language in SCORED and isinstance(reference, str) and reference.split():
            hypothesis = text if isinstance(text, str) else ""
            scores[SCORED[language]].append(error_rate(reference, hypothesis, language))
    return {k: (sum(v) / len(v) if v else math.nan, len(v)) for k, v in scores.items()}


def _est(e: Estimate) -> str:
    if math.isnan(e.value):
        return "-"
    return f"{e.value:.2f} s [{e.low:.2f}, {e.high:.2f}]"


def _rate(value: float, clips: int, unit: str) -> str:
    return "-" if not clips else f"{value:.3f} over {clips} clip(s) ({unit})"


def summary_lines(s: DriveSummary) -> list[tuple[str, str]]:
    """(metric, value) pairs, one per line of the printed table."""
    failed = ", ".join(f"{k} {v}" for k, v in s.failed.items())
    return [
        ("target", s.target),
        ("jobs", f"{s.jobs} planned, {s.sent} sent, {s.ok} ok"),
        ("failed by cause", failed),
        ("jobs/min", f"{s.jobs_per_min:.1f} (ok jobs per minute of {s.wall_s:.1f} s)"),
        ("RTFx", f"{s.rtfx:.2f} (s of audio answered per s of the drive)"),
        ("latency p50", _est(s.latency_p50_s)),
        ("latency p95", _est(s.latency_p95_s)),
        ("latency p99", _est(s.latency_p99_s)),
        ("CER (zh)", _rate(s.cer, s.cer_clips, "characters")),
        ("WER (en)", _rate(s.wer, s.wer_clips, "words")),
        ("lost, duplicated", f"{s.lost}, {s.duplicated}"),
    ]


def format_summary(s: DriveSummary) -> str:
    """The summary as the command line prints it: one metric a line, intervals beside values,
    then the failures' texts counted."""
    pairs = summary_lines(s)
    width = max(len(k) for k, _ in pairs)
    out = [f"{k:<{width}}  {v}" for k, v in pairs]
    out += [f"  {count:>6} x {text}" for text, count in s.error_kinds.items()]
    return "\n".join(out)


def summary_blob(s: DriveSummary) -> dict[str, Any]:
    """The summary as JSON-ready data (each estimate a mapping of value, low, high, n)."""
    return asdict(s) | {"failed": s.failed}
