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
``wer_en`` / ``cer_zh``: clean-speech error rates (``sum(errors) / sum(ref_len)``) over the
labelled sets (`asrlab.audio.evalsets`: bundled, or a folder of your own); ``d_wer_en``,
``d_cer_zh`` with ``_low`` / ``_high``: the difference to the base preset's rate on the same
utterances with its paired 95 % bootstrap interval (`asrlab.stats.paired_rate_difference`), and
``n_en`` / ``n_zh`` the utterances it rests on; ``long_wer_en`` / ``long_cer_zh`` and
``rtf_worst_long``: the same rates and the worst ``job_rtf`` on long-form speech (several 30 s
windows, where ``condition_on_previous_text`` can carry a loop from one window to the next);
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from asrlab.analysis import evaluate
from asrlab.audio import corpus, evalsets
from asrlab.decoding.decoder import TracedModel, load_model
from asrlab.decoding.options import DecodeConfig
from asrlab.errors import ConfigError
from asrlab.service.remedies import REMEDIES, Remedy, remedy
from asrlab.service.rows import Column
from asrlab.stats import Estimate, paired_rate_difference
from asrlab.workload.attribution import summary_frame
from asrlab.workload.real import run_workload
from asrlab.workload.traffic import WorkloadConfig

# What the Pareto front weighs (all: lower is better).
PARETO_COLUMNS = ("failure_rate", "latency_p95_s", "error_rate_mean")
STRESS_CLASSES = frozenset(corpus.STRESS_SOURCES)
# Clean speech to rank presets on: 100 English and 20 Mandarin utterances, bundled. Mandarin at
# scale is a folder of your own (``"zh:/path"``): see docs/results/remedies.md.
DEFAULT_EVAL_SETS = ("librispeech_test_other_100", "zh_clean_20")
NON_SPEECH_CLASSES = ("noise", "tone", "near_silence")
LANGUAGE_RATES = (("en", "wer_en"), ("zh", "cer_zh"))
# The least a decode of a clip can cost: one greedy pass at temperature 0, window 0 encoded once.
FLOOR = DecodeConfig(beam_size=1, temperature=(0.0,), reuse_language_encoding=True)
# The bars a remedy must clear to be recommended (issue 15): its worst cost against the floor,
# its clean-speech accuracy against the incident preset's (1 point), and against the batched peer
# what it emits without words and the Pareto front.
FLOOR_RATIO_MAX = 1.5
# The accuracy bar (issue 20), per language on the same utterances as the base preset: the
# difference at most half a point, and its paired 95 % interval's upper end at most 1.5 points.
# A remedy that decodes clean speech as the base does scores 0 with no spread; one that changes
# it must show, on enough utterances, that the change is not a loss.
ACCURACY_POINT_MAX = 0.005
ACCURACY_UPPER_MAX = 0.015


def accuracy_items(classes: Sequence[str], max_items: int | None, seed: int = 0) -> list[Any]:
    """Up to `max_items` items (None: all) of each class or labelled set, in the order named
    (`asrlab.audio.evalsets.set_items`)."""
    return [
        it for name in classes for it in evalsets.set_items(name, max_items=max_items, seed=seed)
    ]


def corpus_items(
    eval_sets: Sequence[str] = DEFAULT_EVAL_SETS,
    clean_items: int | None = None,
    hard_items: int = 14,
    noise_items: int = 2,
    *,
    long_form: bool = True,
    seed: int = 0,
) -> list[Any]:
    """The scoreboard's corpus: clean speech (the labelled sets, up to `clean_items` each; None:
    all), long-form speech (`evalsets.long_form_items`), hard speech, noise."""
    return (
        accuracy_items(eval_sets, clean_items, seed)
        + (evalsets.long_form_items() if long_form else [])
        + corpus.class_audio(corpus.HARD_SPEECH_CLASS, max_items=hard_items, seed=seed)
        + corpus.class_audio("noise", max_items=noise_items, seed=seed)
    )


def accuracy(
    model: TracedModel, chosen: Remedy, items: Sequence[Any], *, progress: bool = False
) -> pd.DataFrame:
    """`evaluate` rows of `items` under the remedy's decode options and VAD gate."""
    return evaluate.evaluate(
        model,
        chosen.decode,
        items,
        progress=progress,
        vad_gate=chosen.vad_gate,
        vad_trim=chosen.vad_trim,
    )


def _is_hard(rows: pd.DataFrame) -> pd.Series:
    return rows["audio_class"] == corpus.HARD_SPEECH_CLASS


def _is_wordless(rows: pd.DataFrame) -> pd.Series:
    """Audio without words: its reference is empty (non-speech, reversed speech; `evaluate`)."""
    return rows["reference"].fillna("x") == ""


def _is_long(rows: pd.DataFrame) -> pd.Series:
    return rows["audio_class"] == evalsets.LONG_FORM_CLASS


def clean_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Clean speech with words: every row not hard, non-speech or long-form that has a reference
    (the corpus's clean classes and every labelled set)."""
    other = _is_hard(rows) | rows["audio_class"].isin(NON_SPEECH_CLASSES) | _is_long(rows)
    return rows[~other & (rows["ref_len"].fillna(0) > 0)]


def judged(rows: pd.DataFrame, floor: pd.DataFrame | None = None) -> dict[str, float]:
    """Cost, accuracy and emission columns of one remedy's `evaluate` rows (see the module)."""
    clean = clean_rows(rows)
    long = rows[_is_long(rows) & (rows["ref_len"].fillna(0) > 0)]
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
    out = error_rates(clean) | {f"long_{name}": rate for name, rate in error_rates(long).items()}
    out |= {
        "rtf_worst_long": float(long["job_rtf"].max()) if len(long) else math.nan,
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


def paired(rows: pd.DataFrame, base: pd.DataFrame) -> dict[str, Estimate]:
    """Per language of clean speech: `rows`' error rate minus `base`'s on the same utterances,
    with its paired interval (`asrlab.stats.paired_rate_difference`), keyed ``wer_en`` /
    ``cer_zh``; a language without words in both is left out.

    Raises:
        ConfigError: `rows` lack an utterance `base` has in that language, or the reverse.
    """
    out: dict[str, Estimate] = {}
    mine, theirs = clean_rows(rows), clean_rows(base)
    for language, name in LANGUAGE_RATES:
        a = theirs[theirs["language"] == language].set_index("item_id")
        b = mine[mine["language"] == language].set_index("item_id")
        if a.empty and b.empty:
            continue
        if set(a.index) != set(b.index):
            odd = sorted(set(a.index) ^ set(b.index))
            raise ConfigError("items", odd[:3], f"{name}: a paired difference needs the same ones")
        b = b.loc[a.index]
        out[name] = paired_rate_difference(a["errors"], b["errors"], a["ref_len"])
    return out


def paired_columns(rows: pd.DataFrame, base: pd.DataFrame | None) -> dict[str, float]:
    """`paired` as flat scoreboard columns (``d_wer_en``, ``_low``, ``_high``, ``n_en`` ...);
    NaN where there is no base to compare with."""
    found = {} if base is None else paired(rows, base)
    out: dict[str, float] = {}
    for language, name in LANGUAGE_RATES:
        est = found.get(name)
        out[f"d_{name}"] = est.value if est else math.nan
        out[f"d_{name}_low"] = est.low if est else math.nan
        out[f"d_{name}_high"] = est.high if est else math.nan
        out[f"n_{language}"] = est.n if est else 0
    return out


def worst_rtf(jobs: pd.DataFrame, classes: Iterable[str] | None = None) -> float:
    """Largest latency per audio second over the jobs (of `classes`, if given)."""
    c = Column
    chosen = jobs if classes is None else jobs[jobs[c.audio_class].isin(list(classes))]
    chosen = chosen[chosen[c.audio_s] > 0]
    return float((chosen[c.latency_s] / chosen[c.audio_s]).max()) if len(chosen) else math.nan


def run(
    remedies: Sequence[str],
    workload: WorkloadConfig,
    items: Sequence[Any],
    *,
    base: str = "incident",
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every remedy on `workload` and `items` (e.g. `corpus_items`), and the greedy floor.

    Each remedy's clean-speech accuracy is compared with `base`'s on the same utterances
    (`paired_columns`) when `base` is among the remedies.

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
    stressed = [it for it in items if _stressed(evaluate.audio_class_of(it[0]))]
    scored: dict[tuple[str, bool, bool], tuple[pd.DataFrame, pd.DataFrame | None]] = {}
    lines, jobs = [], []
    for r in tqdm(chosen, desc="remedies", unit="remedy", disable=not progress):
        result = run_workload(replace(workload, remedy=r.name), progress=False)
        frame = result.frame()
        key = r.decodes_as()
        if key not in scored:
            # The floor is decoded again next to each remedy's corpus, not once at the start,
            # so that a machine slowing down in the middle of the run moves both alike.
            floor = evaluate.evaluate(model, FLOOR, stressed, progress=False) if stressed else None
            rows = accuracy(model, r, items).assign(remedy=r.name)
            scored[key] = (rows, None if floor is None else floor.assign(remedy=f"floor:{r.name}"))
        line = {str(k): v for k, v in summary_frame(frame).iloc[0].items()}
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
    by_name = {r.name: scored[r.decodes_as()][0] for r in chosen}
    base_rows = by_name.get(base)
    for line in lines:
        line |= paired_columns(by_name[line["remedy"]], base_rows)
    board = pd.DataFrame(lines)
    board["pareto"] = pareto_front(board, PARETO_COLUMNS)
    acc = [f for pair in scored.values() for f in pair if f is not None]
    return board, pd.concat(jobs, ignore_index=True), pd.concat(acc, ignore_index=True)


def _stressed(audio_class: str) -> bool:
    """Whether the floor is decoded beside a clip of this class: hard speech and non-speech."""
    return audio_class == corpus.HARD_SPEECH_CLASS or audio_class in NON_SPEECH_CLASSES


def bars(board: pd.DataFrame, *, base: str = "incident", peer: str = "batched") -> pd.DataFrame:
    """Each non-peer remedy against the bars `recommended` must clear; the favoured first.

    Columns: ``remedy``, ``floor_ratio`` (<= `FLOOR_RATIO_MAX`), ``accuracy_point`` and
    ``accuracy_upper``: the larger over the languages of the paired difference to the base and
    of its interval's upper end (``d_*`` columns of `run`; <= `ACCURACY_POINT_MAX` and
    `ACCURACY_UPPER_MAX`), ``emitted_vs_peer``: units emitted per wordless clip minus the
    peer's (<= 0), ``beyond_peer_front``: not dominated by the peer on `PARETO_COLUMNS`, one
    ``ok_*`` column per bar, and ``passes`` (all four). Rows are sorted passes first, then those
    that keep the accuracy, then by the floor ratio (the cheapest first), error_rate_mean and
    failure rate: the first row is the remedy the scoreboard favours, and where none passes,
    the cheapest that keeps the accuracy (issue 20).

    Raises:
        ConfigError: `base` or `peer` is not on the board.
    """
    by = board.set_index("remedy")
    for needed in (base, peer):
        if needed not in by.index:
            raise ConfigError("remedy", needed, "the bars need it on the scoreboard")
    p = by.loc[peer]
    peer_values = p[list(PARETO_COLUMNS)].astype(float).fillna(np.inf).to_numpy()
    out = []
    for name, row in by[~by["peer"].astype(bool)].iterrows():
        values = row[list(PARETO_COLUMNS)].astype(float).fillna(np.inf).to_numpy()
        dominated = bool((peer_values <= values).all() and (peer_values < values).any())
        point, upper = _accuracy(row) if name != base else (0.0, 0.0)
        line = {
            "remedy": name,
            "floor_ratio": row["floor_ratio_worst"],
            "accuracy_point": point,
            "accuracy_upper": upper,
            "emitted_vs_peer": row["emitted_per_clip"] - p["emitted_per_clip"],
            "beyond_peer_front": not dominated,
        }
        line |= {
            "ok_floor": bool(line["floor_ratio"] <= FLOOR_RATIO_MAX),
            "ok_accuracy": bool(point <= ACCURACY_POINT_MAX and upper <= ACCURACY_UPPER_MAX),
            "ok_emitted": bool(line["emitted_vs_peer"] <= 0),
            "ok_front": not dominated,
        }
        line["passes"] = all(line[k] for k in BAR_COLUMNS)
        out.append(line | {k: row[k] for k in ("error_rate_mean", *PARETO_COLUMNS[:2])})
    frame = pd.DataFrame(out)
    return frame.sort_values(
        ["passes", "ok_accuracy", "floor_ratio", "error_rate_mean", "failure_rate"],
        ascending=[False, False, True, True, True],
    ).reset_index(drop=True)


BAR_COLUMNS = ("ok_floor", "ok_accuracy", "ok_emitted", "ok_front")


def _accuracy(row: pd.Series) -> tuple[float, float]:
    """The worst paired difference to the base over the languages, and the worst upper end;
    NaN (fails the bar) where no language was compared."""
    names = [name for _, name in LANGUAGE_RATES if not math.isnan(row.get(f"d_{name}", math.nan))]
    if not names:
        return math.nan, math.nan
    return (
        max(float(row[f"d_{n}"]) for n in names),
        max(float(row[f"d_{n}_high"]) for n in names),
    )


def misses(line: pd.Series) -> str:
    """What a `bars` row misses, by how much, in words ("" when it passes every bar)."""
    out = []
    if not line["ok_floor"]:
        out.append(f"cost {line['floor_ratio']:.3f}x the greedy floor (bar {FLOOR_RATIO_MAX}x)")
    if not line["ok_accuracy"]:
        out.append(
            f"accuracy {100 * line['accuracy_point']:+.2f} points, upper end "
            f"{100 * line['accuracy_upper']:+.2f} (bars +{100 * ACCURACY_POINT_MAX:g}, "
            f"+{100 * ACCURACY_UPPER_MAX:g})"
        )
    if not line["ok_emitted"]:
        out.append(f"{line['emitted_vs_peer']:+.1f} units per wordless clip beyond the peer's")
    if not line["ok_front"]:
        out.append("dominated by the peer")
    return "; ".join(out)


def pareto_front(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """True for rows no other row dominates (lower is better in every column; NaN is worst)."""
    values = frame[list(columns)].astype(float).fillna(np.inf).to_numpy()
    at_least = (values[:, None, :] <= values[None, :, :]).all(axis=2)
    better = (values[:, None, :] < values[None, :, :]).any(axis=2)
    dominated = (at_least & better).any(axis=0)  # [i, j]: row i dominates row j
    return pd.Series(~dominated, index=frame.index, name="pareto")


def all_remedies() -> list[str]:
    return list(REMEDIES)


def paired_table(board: pd.DataFrame) -> pd.DataFrame:
    """Per remedy and language: the paired difference to the base in points, its 95 % interval,
    and the utterances it rests on (from `run`'s ``d_*`` columns); languages not compared are
    left out."""
    out = []
    for _, row in board.iterrows():
        line: dict[str, Any] = {"remedy": row["remedy"], "peer": bool(row["peer"])}
        for language, name in LANGUAGE_RATES:
            if row.get(f"n_{language}", 0):
                line[f"{name} %"] = 100 * row[name]
                line[f"d_{name} points"] = 100 * row[f"d_{name}"]
                line[f"d_{name} 95% CI"] = (
                    f"[{100 * row[f'd_{name}_low']:+.2f}, {100 * row[f'd_{name}_high']:+.2f}]"
                )
                line[f"n_{language}"] = int(row[f"n_{language}"])
        out.append(line)
    return pd.DataFrame(out)


PICK_COLUMNS = (
    "remedy", "passes", "misses", "floor_ratio", "accuracy_point", "accuracy_upper",
    "emitted_vs_peer", "beyond_peer_front", "d_wer_en", "d_wer_en_low", "d_wer_en_high", "n_en",
    "d_cer_zh", "d_cer_zh_low", "d_cer_zh_high", "n_zh", "failure_rate", "latency_p95_s",
)  # fmt: skip


def pick_table(
    board: pd.DataFrame, *, base: str = "incident", peer: str = "batched"
) -> pd.DataFrame:
    """`bars` with what each remedy misses and its paired accuracy columns: the table the lab's
    pick is made on (its first row; the base, the preset being remedied, comes last), as
    `asrlab presets` shows it (``asrlab/data/pick.csv``)."""
    judged = bars(board, base=base, peer=peer)
    judged = pd.concat([judged[judged["remedy"] != base], judged[judged["remedy"] == base]])
    judged["misses"] = judged.apply(misses, axis=1)
    paired_cols = [c for c in PICK_COLUMNS if c.startswith(("d_", "n_"))]
    merged = judged.merge(board[["remedy", *paired_cols]], on="remedy", how="left")
    return merged[list(PICK_COLUMNS)]


PICK_PATH = Path(__file__).resolve().parents[1] / "data" / "pick.csv"


def bundled_pick() -> tuple[str, pd.DataFrame]:
    """The run the lab's pick was made on (the file's ``#`` header: command, commit, machine,
    date) and its `pick_table`, as bundled in ``asrlab/data/pick.csv``."""
    lines = PICK_PATH.read_text(encoding="utf-8").splitlines()
    header = " ".join(line.lstrip("# ").strip() for line in lines if line.startswith("#"))
    return header, pd.read_csv(PICK_PATH, comment="#")


def pick_lines(table: pd.DataFrame) -> list[str]:
    """`pick_table` rows as short lines a terminal shows: each remedy's cost, paired accuracy
    per language and emitted output against the bars, and what it misses."""
    bars_line = (
        f"bars: cost <= {FLOOR_RATIO_MAX}x the greedy floor on noise and hard speech; accuracy "
        f"per language within +{100 * ACCURACY_POINT_MAX:g} points of the base on the same "
        f"utterances, the paired 95 % interval's upper end within "
        f"+{100 * ACCURACY_UPPER_MAX:g}; no more output without words than batched; not "
        "dominated by batched"
    )
    out = [bars_line]
    for _, row in table.iterrows():
        accuracy = []
        for language, name in LANGUAGE_RATES:
            if row.get(f"n_{language}", 0):
                accuracy.append(
                    f"{name} {100 * row[f'd_{name}']:+.2f} "
                    f"[{100 * row[f'd_{name}_low']:+.2f}, {100 * row[f'd_{name}_high']:+.2f}] "
                    f"(n={int(row[f'n_{language}'])})"
                )
        verdict = "passes every bar" if row["passes"] else f"misses: {row['misses']}"
        out.append(
            f"{row['remedy']}\n    cost {row['floor_ratio']:.3f}x floor; {'; '.join(accuracy)}; "
            f"emitted {row['emitted_vs_peer']:+.1f} vs batched; {verdict}"
        )
    return out
