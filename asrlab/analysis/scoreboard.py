"""The remedies scoreboard: every preset and peer on one workload and one corpus, judged together.

A remedy is judged on several things at once, because each one alone can be gamed: failures and
latency come from a real workload (`workload.real.run_workload`, the same seeded jobs for every
remedy); cost, accuracy and what is emitted without words come from decoding one corpus with the
remedy's decode options and VAD gate (`asrlab.analysis.evaluate`): clean speech, the
`hard_speech` class (speech the VAD passes and the ladder climbs, and reversed speech, which
holds no words) and noise. So a remedy that is fast because it transcribes badly, or quiet
because it drops speech, shows it.

Cost is judged against the greedy floor of the same clip: beam 1, temperature 0, one encoder
pass (`FLOOR`), decoded in the same run on the same machine right before the remedy's corpus, so
the ratio does not hinge on the CPU's speed. It is a ratio of two single timings; the machine's
run-to-run spread (docs/results) applies to it.

Scoreboard columns (one row per remedy): the `workload.attribution.summarize` line (success rate,
latency percentiles with 95 % intervals, lease wait, work after deadline, cascade attribution),
plus ``failure_rate``; ``stress_rtf_worst``: the largest latency per audio second over the
workload's stress jobs; ``rtf_worst``: the same over every job; ``rtf_worst_noise`` and
``rtf_worst_hard``: the largest ``job_rtf`` (VAD included) over the corpus's noise and
hard-speech clips; ``floor_ratio_worst``: the largest ``job_rtf`` / the floor's over those clips;
``wer_en`` / ``cer_zh``: clean-speech error rates (``sum(errors) / sum(ref_len)``);
``error_hard``: the same pooled over the hard speech that holds words (characters for zh, words
for en); ``emitted_per_clip``, ``emitted_share``, ``known_phrases``: on audio without words
(noise, reversed speech) the units emitted per clip, the share of clips with any output, and the
phrases from `asrlab.analysis.hallucination`'s bag; ``error_rate_mean``: the mean of the three
error rates; ``decode_hash``; ``peer``; ``pareto``: on the front of failure rate, p95 latency and
error_rate_mean (nothing else is at least as good on all three and better on one).
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
from asrlab.decoding.options import DecodeConfig
from asrlab.decoding.traced import TracedModel, load_model
from asrlab.errors import ConfigError
from asrlab.service.remedies import REMEDIES, Remedy, remedy
from asrlab.workload.attribution import summary_frame
from asrlab.workload.real import run_workload
from asrlab.workload.traffic import WorkloadConfig

# What the Pareto front weighs (all: lower is better).
PARETO_COLUMNS = ("failure_rate", "latency_p95_s", "error_rate_mean")
STRESS_CLASSES = frozenset(corpus.STRESS_SOURCES)
CLEAN_CLASSES = ("clean_en", "clean_zh")
NON_SPEECH_CLASSES = ("noise", "tone", "near_silence")
# The least a decode of a clip can cost: one greedy pass at temperature 0, window 0 encoded once.
FLOOR = DecodeConfig(beam_size=1, temperature=(0.0,), reuse_language_encoding=True)
# The bars a remedy must clear to be recommended (issue 15): its worst cost against the floor,
# its clean-speech accuracy against the incident preset's (1 point), and against the batched peer
# what it emits without words and the Pareto front.
FLOOR_RATIO_MAX = 1.5
CLEAN_MARGIN = 0.01


def accuracy_items(classes: Sequence[str], max_items: int, seed: int = 0) -> list[Any]:
    """Up to `max_items` items of each class, in class order (`corpus.class_audio`)."""
    return [
        it for name in classes for it in corpus.class_audio(name, max_items=max_items, seed=seed)
    ]


def corpus_items(
    clean_items: int = 3, hard_items: int = 14, noise_items: int = 2, seed: int = 0
) -> list[Any]:
    """The scoreboard's corpus: clean speech of both languages, hard speech, noise."""
    return (
        accuracy_items(CLEAN_CLASSES, clean_items, seed)
        + corpus.class_audio(corpus.HARD_SPEECH_CLASS, max_items=hard_items, seed=seed)
        + corpus.class_audio("noise", max_items=noise_items, seed=seed)
    )


def accuracy(
    model: TracedModel, chosen: Remedy, items: Sequence[Any], *, progress: bool = False
) -> pd.DataFrame:
    """`evaluate` rows of `items` under the remedy's decode options and VAD gate."""
    return evaluate.evaluate(
        model, chosen.decode, items, progress=progress, vad_gate=chosen.vad_gate
    )


def _is_hard(rows: pd.DataFrame) -> pd.Series:
    return rows["audio_class"] == corpus.HARD_SPEECH_CLASS


def _is_wordless(rows: pd.DataFrame) -> pd.Series:
    """Audio without words: its reference is empty (non-speech, reversed speech; `evaluate`)."""
    return rows["reference"].fillna("x") == ""


def judged(rows: pd.DataFrame, floor: pd.DataFrame | None = None) -> dict[str, float]:
    """Cost, accuracy and emission columns of one remedy's `evaluate` rows (see the module)."""
    clean = rows[rows["audio_class"].isin(CLEAN_CLASSES)]
    hard = rows[_is_hard(rows) & (rows["ref_len"].fillna(0) > 0)]
    wordless = rows[_is_wordless(rows)]
    noise = rows[rows["audio_class"].isin(NON_SPEECH_CLASSES)]
    all_hard = rows[_is_hard(rows)]
    stressed = rows[_is_hard(rows) | rows["audio_class"].isin(NON_SPEECH_CLASSES)]
    ratio = math.nan
    if floor is not None and len(stressed):
        base = floor.set_index("item_id")["job_rtf"]
        ratios = stressed.set_index("item_id")["job_rtf"] / base.reindex(stressed["item_id"])
        ratio = float(ratios.max())
    known = wordless["known_phrases"].fillna(0)
    out = error_rates(clean) | {
        "error_hard": _pooled(hard),
        "rtf_worst_noise": float(noise["job_rtf"].max()) if len(noise) else math.nan,
        "rtf_worst_hard": float(all_hard["job_rtf"].max()) if len(all_hard) else math.nan,
        "floor_ratio_worst": ratio,
        "emitted_per_clip": float(wordless["hyp_words"].mean()) if len(wordless) else math.nan,
        "emitted_share": float((wordless["hyp_words"] > 0).mean()) if len(wordless) else math.nan,
        "known_phrases": int(known.sum()),
    }
    rates = [r for r in (out["wer_en"], out["cer_zh"], out["error_hard"]) if not math.isnan(r)]
    out["error_rate_mean"] = float(np.mean(rates)) if rates else math.nan
    return out


def _pooled(speech: pd.DataFrame) -> float:
    ref_len = float(speech["ref_len"].sum())
    return float(speech["errors"].sum()) / ref_len if ref_len else math.nan


def error_rates(rows: pd.DataFrame) -> dict[str, float]:
    """``wer_en`` and ``cer_zh`` from `evaluate` rows (corpus rates, not means of rates)."""
    out: dict[str, float] = {}
    for language, name in (("en", "wer_en"), ("zh", "cer_zh")):
        out[name] = _pooled(rows[(rows["language"] == language) & (rows["ref_len"].fillna(0) > 0)])
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
    """Every remedy on `workload` and `items` (e.g. `corpus_items`), and the greedy floor.

    Returns:
        (scoreboard, jobs, accuracy rows): one row per remedy; every workload job of every
        remedy; every corpus item of every distinct decode config and gate (scored once each),
        and the floor decoded beside it, under the remedy name ``floor:<remedy>``.

    Raises:
        ConfigError: an unknown remedy, or no remedies.
    """
    if not remedies:
        raise ConfigError("remedies", list(remedies), "name at least one remedy")
    chosen = [remedy(name) for name in remedies]
    model = load_model(workload.model, compute_type=workload.compute_type)
    stressed = [it for it in items if evaluate.audio_class_of(it[0]) not in CLEAN_CLASSES]
    scored: dict[tuple[str, bool], tuple[pd.DataFrame, pd.DataFrame | None]] = {}
    lines, jobs = [], []
    for r in tqdm(chosen, desc="remedies", unit="remedy", disable=not progress):
        result = run_workload(replace(workload, remedy=r.name), progress=False)
        frame = result.frame()
        key = (r.decode.config_hash(), r.vad_gate)
        if key not in scored:
            # The floor is decoded again next to each remedy's corpus, not once at the start,
            # so that a machine slowing down in the middle of the run moves both alike.
            floor = evaluate.evaluate(model, FLOOR, stressed, progress=False) if stressed else None
            rows = accuracy(model, r, items).assign(remedy=r.name)
            scored[key] = (rows, None if floor is None else floor.assign(remedy=f"floor:{r.name}"))
        line = summary_frame(frame).iloc[0].to_dict()
        line |= {
            "remedy": r.name,
            "why": r.why,
            "peer": r.peer,
            "failure_rate": 1.0 - line["success_rate"],
            "stress_rtf_worst": worst_rtf(frame, STRESS_CLASSES),
            "rtf_worst": worst_rtf(frame),
            **judged(*scored[key]),
            "decode_hash": r.decode.config_hash(),
        }
        lines.append(line)
        jobs.append(frame)
    board = pd.DataFrame(lines)
    board["pareto"] = pareto_front(board, PARETO_COLUMNS)
    acc = [f for pair in scored.values() for f in pair if f is not None]
    return board, pd.concat(jobs, ignore_index=True), pd.concat(acc, ignore_index=True)


def bars(board: pd.DataFrame, *, base: str = "incident", peer: str = "batched") -> pd.DataFrame:
    """Each non-peer remedy against the bars `recommended` must clear; the favoured first.

    Columns: ``remedy``, ``floor_ratio`` (<= `FLOOR_RATIO_MAX`), ``clean_vs_base``: the larger of
    the WER and CER differences to `base` (<= `CLEAN_MARGIN`), ``emitted_vs_peer``: units
    emitted per wordless clip minus the peer's (<= 0), ``beyond_peer_front``: not dominated by
    the peer on `PARETO_COLUMNS`, one ``ok_*`` column per bar, and ``passes`` (all four). Rows
    are sorted passes first, then by error_rate_mean, failure rate and p95 latency: the first
    passing row is the remedy the scoreboard favours.

    Raises:
        ConfigError: `base` or `peer` is not on the board.
    """
    by = board.set_index("remedy")
    for name in (base, peer):
        if name not in by.index:
            raise ConfigError("remedy", name, "the bars need it on the scoreboard")
    b, p = by.loc[base], by.loc[peer]
    peer_values = p[list(PARETO_COLUMNS)].astype(float).fillna(np.inf).to_numpy()
    out = []
    for name, row in by[~by["peer"].astype(bool)].iterrows():
        values = row[list(PARETO_COLUMNS)].astype(float).fillna(np.inf).to_numpy()
        dominated = bool((peer_values <= values).all() and (peer_values < values).any())
        clean = max(row["wer_en"] - b["wer_en"], row["cer_zh"] - b["cer_zh"])
        line = {
            "remedy": name,
            "floor_ratio": row["floor_ratio_worst"],
            "clean_vs_base": clean,
            "emitted_vs_peer": row["emitted_per_clip"] - p["emitted_per_clip"],
            "beyond_peer_front": not dominated,
        }
        line |= {
            "ok_floor": bool(line["floor_ratio"] <= FLOOR_RATIO_MAX),
            "ok_clean": bool(clean <= CLEAN_MARGIN),
            "ok_emitted": bool(line["emitted_vs_peer"] <= 0),
            "ok_front": not dominated,
        }
        line["passes"] = all(line[k] for k in ("ok_floor", "ok_clean", "ok_emitted", "ok_front"))
        out.append(line | {k: row[k] for k in ("error_rate_mean", *PARETO_COLUMNS[:2])})
    frame = pd.DataFrame(out)
    return frame.sort_values(
        ["passes", "error_rate_mean", "failure_rate", "latency_p95_s"],
        ascending=[False, True, True, True],
    ).reset_index(drop=True)


def pareto_front(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """True for rows no other row dominates (lower is better in every column; NaN is worst)."""
    values = frame[list(columns)].astype(float).fillna(np.inf).to_numpy()
    at_least = (values[:, None, :] <= values[None, :, :]).all(axis=2)
    better = (values[:, None, :] < values[None, :, :]).any(axis=2)
    dominated = (at_least & better).any(axis=0)  # [i, j]: row i dominates row j
    return pd.Series(~dominated, index=frame.index, name="pareto")


def all_remedies() -> list[str]:
    return list(REMEDIES)
