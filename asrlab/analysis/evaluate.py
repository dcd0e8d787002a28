"""Decode items with one config and score each: the table the beam-size and length sweeps plot.

`evaluate` is the one call a sweep notebook makes per grid point, so the notebook holds only
parameters, this call and plots. Each item is decoded by `TracedModel.run` (seeded, traced) and
becomes one row: the trace's own summary (timings, windows, attempts), what the fallback loop
did, the transcript scored by `asrlab.analysis`, the config (``cfg_`` columns and its hash) and
provenance (docs/design.md, "Reproducibility").

Scoring non-speech. The right transcript of noise, a tone or near silence is nothing, so its
reference is ``""``: every unit decoded is an insertion, ``errors == hyp_words`` and
``ref_len == 0``, and ``error_rate`` is 0.0 for an empty transcript or ``inf`` otherwise (see
`ErrorCounts.rate`). Report non-speech as inserted words per clip (mean ``hyp_words``),
and speech as ``sum(errors) / sum(ref_len)`` per class, never as a mean of per-row rates.
Non-speech has no language; its transcript is normalised in the language the model decoded in
(``scored_as``). A reference of None means "not known": those rows carry no error columns.

Columns, per row (one item):
    item_id, audio_class, language (the item's), detected_language, language_probability,
    audio_s, wall_s, transcribe_s, iterate_s, rtf, coverage: from `DecodeTrace.summary`;
    windows, attempts, attempts_max (most in one window), attempts_per_window, window_s
    (seconds iterating per 30 s window),
    fallbacks (attempts after each window's first), token_limit_hits (repetition loops),
    n_segments, tokens (best hypotheses, all attempts), tokens_all (every sampled hypothesis),
    verdicts (per window, comma-separated, windows joined by ``|``: ``"retry,retry,accepted"``),
    finished, stopped_reason;
    hypothesis, reference, scored_as, reference_norm, hypothesis_norm, unit, errors, ref_len,
    hyp_words (units in the normalised hypothesis: words, or characters for zh), error_rate,
    known_phrases (non-speech only: phrases Whisper is known to emit there; `hallucination`);
    model, model_sha256, cfg_<field> for every `DecodeConfig` field, config_hash, seed, repeat,
    and the `provenance.record` columns;
    clip_s (the item's length), vad_s (the VAD gate's detection, 0 without the gate), job_s
    (vad_s + wall_s) and job_rtf (job_s / clip_s: the cost per second of the clip as sent, the
    number a gated and an ungated decode can be compared on), gated_out (the gate found no
    speech, so nothing was decoded: an empty transcript, scored as any other).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from asrlab import provenance
from asrlab.analysis.hallucination import emitted
from asrlab.analysis.metrics import error_counts, normalize, units
from asrlab.audio import vad
from asrlab.audio.samples import SAMPLE_RATE_HZ
from asrlab.decoding import models
from asrlab.decoding.decoder import TracedModel
from asrlab.decoding.options import DecodeConfig
from asrlab.decoding.trace import DecodeTrace
from asrlab.errors import ConfigError

# (item id, float32 16 kHz samples, reference or None, language or ""): `corpus.AudioItem`.
Item = tuple[str, np.ndarray, "str | None", str]


def evaluate(
    model: TracedModel,
    config: DecodeConfig,
    items: Iterable[Item],
    *,
    progress: bool = True,
    repeat: int = 0,
    vad_gate: bool = False,
    vad_trim: bool = True,
) -> pd.DataFrame:
    """Decode every item with `config` and return one scored row per item, in item order.

    Args:
        model: a loaded `TracedModel` (``decoding.load_model``); its sampler is reseeded with
            ``config.seed`` before each item, so a row is reproducible on its own.
        config: the decode options; they are stamped on every row (``cfg_*``, ``config_hash``).
        items: ``(item_id, samples, reference, language)`` tuples, e.g. from
            `corpus.class_audio`; the audio class is the part of the id before ``/``.
        progress: show a tqdm progress bar (on stderr).
        repeat: index of this repetition, stamped on the rows, for timings repeated on purpose.
        vad_gate: decode each item as the node's VAD gate would (`asrlab.service.node`): only
            its speech spans (the whole item with ``vad_trim=False``), and nothing when Silero
            finds none (`asrlab.audio.vad.gate`).

    Raises:
        ConfigError: `items` is empty.
    """
    todo = list(items)
    if not todo:
        raise ConfigError("items", todo, "nothing to evaluate: pass at least one item")
    stamp = _run_columns(model, config, repeat)
    bar = tqdm(
        todo,
        desc=f"{model.name} beam {config.beam_size} [{config.config_hash()}]",
        unit="item",
        disable=not progress,
    )
    rows: list[dict[str, Any]] = []
    if vad_gate:
        vad.warm_up()  # so the first item's vad_s is its detection, not the model's load
    for item_id, samples, reference, language in bar:
        bar.set_postfix_str(item_id, refresh=False)
        clip_s = len(samples) / SAMPLE_RATE_HZ
        vad_s, gated_out = 0.0, False
        if vad_gate:
            gated = vad.gate(samples, trim=vad_trim)
            vad_s, gated_out = gated.found.seconds, gated.samples is None
            samples = samples[:0] if gated.samples is None else gated.samples
        if gated_out:  # not decoded: the empty transcript a client of the gated node receives
            trace = DecodeTrace(model=model.name, audio_s=0.0, config=asdict(config))
        else:
            trace = model.run(samples, config)
        job_s = vad_s + trace.wall_s
        rows.append(
            {
                "item_id": item_id,
                "audio_class": audio_class_of(item_id),
                "language": language,
                **_trace_columns(trace),
                **_accuracy_columns(trace, reference, language),
                "clip_s": clip_s,
                "vad_s": vad_s,
                "job_s": job_s,
                "job_rtf": job_s / clip_s if clip_s else math.nan,
                "gated_out": gated_out,
                **stamp,
            }
        )
    return pd.DataFrame(rows)


def evaluate_timed(
    model: TracedModel, config: DecodeConfig, items: Iterable[Item], **kwargs: Any
) -> pd.DataFrame:
    """`evaluate`, with ``point_cpu_s``: this process's CPU seconds over all items, every thread.

    One value for the whole call, on every row (what `asrlab.lab.compare`'s ``cpu_s`` metric
    reads): a busy neighbour stretches CPU seconds far less than wall time (experiments/README.md),
    so a nightly sees a slower decode through the noise. Decode with ``cpu_threads=1`` for it to
    measure the decode rather than threads spinning while they wait.
    """
    cpu_start_s = time.process_time()
    rows = evaluate(model, config, items, **kwargs)
    return rows.assign(point_cpu_s=time.process_time() - cpu_start_s)


def audio_class_of(item_id: str) -> str:
    """The audio class an item id names (``"noise/white_noise_seed0"`` -> ``"noise"``), or ""."""
    head, sep, _ = item_id.partition("/")
    return head if sep else ""


def _trace_columns(trace: DecodeTrace) -> dict[str, Any]:
    """The trace's summary, plus what the fallback loop did in each window."""
    s = trace.summary()
    per_window = [len(w.attempts) for w in trace.windows]
    return {
        "detected_language": s["language"],
        "language_probability": s["language_probability"],
        **{k: s[k] for k in ("audio_s", "wall_s", "transcribe_s", "iterate_s", "rtf", "coverage")},
        "windows": s["windows"],
        "attempts": s["attempts"],
        "attempts_max": max(per_window, default=0),
        "attempts_per_window": s["attempts"] / s["windows"] if s["windows"] else math.nan,
        "window_s": s["iterate_s"] / max(1, s["windows"]),
        "fallbacks": sum(max(0, n - 1) for n in per_window),
        "token_limit_hits": sum(a.hit_token_limit for a in trace.attempts),
        "n_segments": s["segments"],
        "tokens": sum(a.tokens for a in trace.attempts),
        "tokens_all": s["tokens_all"],
        "verdicts": "|".join(",".join(a.verdict for a in w.attempts) for w in trace.windows),
        "finished": s["finished"],
        "stopped_reason": s["stopped_reason"],
        "hypothesis": s["text"],
    }


def _accuracy_columns(trace: DecodeTrace, reference: str | None, language: str) -> dict[str, Any]:
    """Scores of the transcript against the reference (see the module docstring)."""
    if reference is None:
        return {
            "reference": None,
            "scored_as": None,
            "reference_norm": None,
            "hypothesis_norm": None,
            "unit": None,
            "errors": None,
            "ref_len": None,
            "hyp_words": None,
            "error_rate": math.nan,
            "known_phrases": None,
        }
    # Non-speech has no language: score in the one the model decoded in (given or detected).
    scored_as = language or trace.language or "en"
    hypothesis_norm = normalize(trace.text, scored_as)
    counts = error_counts(reference, trace.text, scored_as)
    return {
        "reference": reference,
        "scored_as": scored_as,
        "reference_norm": normalize(reference, scored_as),
        "hypothesis_norm": hypothesis_norm,
        "unit": counts.unit,
        "errors": counts.errors,
        "ref_len": counts.ref_len,
        "hyp_words": len(units(hypothesis_norm, scored_as)),
        "error_rate": counts.rate,
        # Known non-speech phrases ("Thanks for watching!") only where nothing was said: on
        # speech a real "thank you" would count.
        "known_phrases": None if reference else emitted(trace.text).known,
    }


def _run_columns(model: TracedModel, config: DecodeConfig, repeat: int) -> dict[str, Any]:
    """What every row of one `evaluate` call shares: model, config, seed, provenance."""
    return {
        "model": model.name,
        "model_sha256": models.sha256_of(model.model_path),
        **{f"cfg_{k}": v for k, v in asdict(config).items()},
        "config_hash": config.config_hash(),
        "seed": config.seed,
        "repeat": repeat,
        **provenance.record(),
    }


def class_table(rows: pd.DataFrame, by: Iterable[str] = ("audio_class",)) -> pd.DataFrame:
    """Per group of `evaluate` rows: speed, the fallback loop, and accuracy, as the sweeps print.

    Columns: items, rtf_median, rtf_worst, attempts_per_window (mean), token_limit_hits (sum),
    error_rate (speech: ``sum(errors) / sum(ref_len)``, WER for words, CER for characters),
    unit, inserted_per_clip (non-speech: mean units transcribed where the reference is empty).
    Rows whose decode failed (no ``rtf``) are left out.
    """
    keys = list(by)
    done = rows.dropna(subset=["rtf"])

    def one(group: pd.DataFrame) -> pd.Series:
        speech = group[group["ref_len"].fillna(0) > 0]
        silent = group[group["reference"].fillna("x") == ""]
        ref_len = float(speech["ref_len"].sum())
        return pd.Series(
            {
                "items": len(group),
                "rtf_median": float(group["rtf"].median()),
                "rtf_worst": float(group["rtf"].max()),
                "attempts_per_window": float(group["attempts_per_window"].mean()),
                "token_limit_hits": int(group["token_limit_hits"].sum()),
                "error_rate": float(speech["errors"].sum()) / ref_len if ref_len else math.nan,
                "unit": speech["unit"].iloc[0] if len(speech) else "",
                "inserted_per_clip": float(silent["hyp_words"].mean()) if len(silent) else math.nan,
            }
        )

    return done.groupby(keys, sort=True)[list(done.columns)].apply(one).reset_index()
