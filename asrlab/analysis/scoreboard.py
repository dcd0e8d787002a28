"""The remedies scoreboard: every preset on one workload and one corpus, judged together.

A remedy is judged on three things at once, because each one alone can be gamed: failures and
latency come from a real workload (`workload.real.run_workload`, the same seeded jobs for every
remedy), the worst case from the stress jobs of that workload, and accuracy from decoding the
clean corpus with the remedy's decode options (`asrlab.analysis.evaluate`), so a remedy that is fast
because it transcribes badly shows it.

Scoreboard columns (one row per remedy): the `workload.attribution.summarize` line (success rate,
latency percentiles with 95 % intervals, lease wait, work after deadline, cascade attribution),
plus ``failure_rate``; ``stress_rtf_worst``: the largest latency per audio second over the
workload's stress jobs (noise, tones: what the VAD gate and the fallback ladder act on), the
service's worst case as a user sees it; ``rtf_worst``: the same over every job;
``wer_en`` / ``cer_zh``: corpus error rates (``sum(errors) / sum(ref_len)``) of the clean
English and Chinese items; ``decode_hash``; ``pareto``: on the front of failure rate, p95
latency and the mean of the error rates (nothing else is at least as good on all three and
better on one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from asrlab.analysis import evaluate
from asrlab.audio import corpus
from asrlab.decoding.traced import TracedModel, load_model
from asrlab.errors import ConfigError
from asrlab.service.remedies import REMEDIES, Remedy, remedy
from asrlab.workload.attribution import summary_frame
from asrlab.workload.real import run_workload
from asrlab.workload.traffic import WorkloadConfig

# What the Pareto front weighs (all: lower is better).
PARETO_COLUMNS = ("failure_rate", "latency_p95_s", "error_rate_mean")
STRESS_CLASSES = frozenset(corpus.STRESS_SOURCES)


def accuracy_items(classes: Sequence[str], max_items: int, seed: int = 0) -> list[Any]:
    """The clean corpus every remedy's decode options are scored on."""
    return [
        it for name in classes for it in corpus.class_audio(name, max_items=max_items, seed=seed)
    ]


def accuracy(
    model: TracedModel, chosen: Remedy, items: Sequence[Any], *, progress: bool = False
) -> pd.DataFrame:
    """`evaluate` rows of `items` under the remedy's decode options.

    With the VAD gate, each item is decoded as the node would: its speech spans only.
    """
    from asrlab.audio import vad

    if chosen.vad_gate:
        gated = []
        for item_id, samples, reference, language in items:
            found = vad.detect(samples)
            gated.append((item_id, vad.keep_speech(samples, found), reference, language))
        items = [g for g in gated if len(g[1])]
    return evaluate.evaluate(model, chosen.decode, items, progress=progress)


def error_rates(rows: pd.DataFrame) -> dict[str, float]:
    """``wer_en`` and ``cer_zh`` from `evaluate` rows (corpus rates, not means of rates)."""
    out: dict[str, float] = {}
    for language, name in (("en", "wer_en"), ("zh", "cer_zh")):
        speech = rows[(rows["language"] == language) & (rows["ref_len"].fillna(0) > 0)]
        ref_len = float(speech["ref_len"].sum())
        out[name] = float(speech["errors"].sum()) / ref_len if ref_len else math.nan
    return out


def worst_rtf(jobs: pd.DataFrame, classes: Iterable[str] | None = None) -> float:
    """Largest latency per audio second over the jobs (of `classes`, if given)."""
    chosen = jobs if classes is None else jobs[jobs["audio_class"].isin(list(classes))]
    chosen = chosen[chosen["audio_s"] > 0]
    return float((chosen["latency_s"] / chosen["audio_s"]).max()) if len(chosen) else math.nan


def run(
    remedies: Sequence[str],
    workload: WorkloadConfig,
    items: Sequence[Any],
    *,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every remedy on `workload` and `items`.

    Returns:
        (scoreboard, jobs, accuracy rows): one row per remedy; every workload job of every
        remedy; every accuracy item of every distinct decode config (scored once per config).

    Raises:
        ConfigError: an unknown remedy, or no remedies.
    """
    if not remedies:
        raise ConfigError("remedies", list(remedies), "name at least one remedy")
    chosen = [remedy(name) for name in remedies]
    model = load_model(workload.model, compute_type=workload.compute_type)
    scored: dict[tuple[str, bool], pd.DataFrame] = {}
    lines, jobs = [], []
    for r in tqdm(chosen, desc="remedies", unit="remedy", disable=not progress):
        result = run_workload(replace(workload, remedy=r.name), progress=False)
        frame = result.frame()
        key = (r.decode.config_hash(), r.vad_gate)
        if key not in scored:
            scored[key] = accuracy(model, r, items).assign(remedy=r.name)
        rates = error_rates(scored[key])
        line = summary_frame(frame).iloc[0].to_dict()
        line |= {
            "remedy": r.name,
            "why": r.why,
            "failure_rate": 1.0 - line["success_rate"],
            "stress_rtf_worst": worst_rtf(frame, STRESS_CLASSES),
            "rtf_worst": worst_rtf(frame),
            **rates,
            "error_rate_mean": float(np.nanmean(list(rates.values()))),
            "decode_hash": r.decode.config_hash(),
        }
        lines.append(line)
        jobs.append(frame)
    board = pd.DataFrame(lines)
    board["pareto"] = pareto_front(board, PARETO_COLUMNS)
    acc = pd.concat(scored.values(), ignore_index=True)
    return board, pd.concat(jobs, ignore_index=True), acc


def pareto_front(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """True for rows no other row dominates (lower is better in every column; NaN is worst)."""
    values = frame[list(columns)].astype(float).fillna(np.inf).to_numpy()
    at_least = (values[:, None, :] <= values[None, :, :]).all(axis=2)
    better = (values[:, None, :] < values[None, :, :]).any(axis=2)
    dominated = (at_least & better).any(axis=0)  # [i, j]: row i dominates row j
    return pd.Series(~dominated, index=frame.index, name="pareto")


def all_remedies() -> list[str]:
    return list(REMEDIES)
