"""The sweeps' audio classes, and `evaluate`: real decodes with tiny.en, and scripted traces."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asrlab.analysis.evaluate import audio_class_of, evaluate
from asrlab.audio import corpus
from asrlab.audio.samples import SAMPLE_RATE_HZ
from asrlab.decoding.decoder import TracedModel, load_model
from asrlab.decoding.options import DecodeConfig, preset
from asrlab.decoding.trace import (
    ACCEPTED,
    ALL_FAILED,
    RETRY,
    Attempt,
    DecodeTrace,
    SegmentRecord,
    Window,
)
from asrlab.errors import ConfigError

CLASSES = (
    "clean_en",
    "clean_zh",
    "noisy_en_snr10",
    "noisy_en_snr0",
    "noisy_zh_snr10",
    "noisy_zh_snr0",
    "noise",
    "tone",
    "near_silence",
)  # the classes of one language each (or none); hard_speech mixes both (tests/audio/test_corpus)
ALL_CLASSES = (*CLASSES[:6], "hard_speech", *CLASSES[6:])


def _language_of(name: str) -> str:
    return next((lang for lang in ("en", "zh") if f"_{lang}" in name), "")


# --- audio classes ------------------------------------------------------------------------------


def test_audio_classes_are_the_sweeps_classes() -> None:
    assert corpus.audio_classes() == ALL_CLASSES


@pytest.mark.parametrize("name", CLASSES)
def test_each_class_gives_audio_of_the_asked_length_and_language(name: str) -> None:
    items = corpus.class_audio(name, length_s=7.0, max_items=2)
    assert len(items) == 2
    language = _language_of(name)
    for item_id, samples, reference, item_language in items:
        assert item_id.startswith(f"{name}/")
        assert samples.dtype == np.float32 and samples.shape == (7 * SAMPLE_RATE_HZ,)
        assert np.abs(samples).max() > 0
        assert item_language == language
        if language:
            assert reference  # 7 s holds more than half of each class's first clip
        else:
            assert reference == ""
    assert items[0].item_id != items[1].item_id
    assert not np.array_equal(items[0].samples, items[1].samples)


def test_speech_classes_at_natural_length_are_the_named_clips() -> None:
    items = corpus.class_audio("clean_en", max_items=100)
    ids = [i.item_id.partition("/")[2] for i in items]
    assert ids[-1] == "jfk" and all(c.startswith("en_librispeech_") for c in ids[:-1])
    assert len(ids) == 6  # the 72 s LJ Speech clip stays out
    for item in items:
        clip = corpus.get(item.item_id.partition("/")[2])
        assert len(item.samples) / SAMPLE_RATE_HZ == pytest.approx(clip.duration_s, abs=0.01)
        assert item.reference == clip.reference_text
    zh = corpus.class_audio("clean_zh", max_items=100)
    assert len(zh) == 6 and {i.language for i in zh} == {"zh"}
    noise = corpus.class_audio("noise")
    assert [i.item_id for i in noise] == ["noise/white_noise_seed0", "noise/pink_noise_seed0"]
    assert all(len(i.samples) == 11 * SAMPLE_RATE_HZ for i in noise)


@pytest.mark.parametrize("snr_db", [10, 0])
def test_noisy_classes_are_clean_speech_at_that_snr(snr_db: int) -> None:
    clean = corpus.class_audio("clean_zh", max_items=2)
    noisy = corpus.class_audio(f"noisy_zh_snr{snr_db}", max_items=2)
    assert [n.item_id.split("+")[1] for n in noisy] == ["pink_noise_seed0", "white_noise_seed1"]
    for c, n in zip(clean, noisy, strict=True):
        assert n.reference == c.reference and n.language == "zh"
        added = n.samples.astype(np.float64) - c.samples
        measured = 10 * math.log10(np.mean(c.samples.astype(np.float64) ** 2) / np.mean(added**2))
        assert measured == pytest.approx(snr_db, abs=0.2)


def test_class_audio_is_seeded() -> None:
    a, b = corpus.class_audio("noise", seed=3), corpus.class_audio("noise", seed=3)
    assert all(np.array_equal(x.samples, y.samples) for x, y in zip(a, b, strict=True))
    c = corpus.class_audio("noise", seed=4)
    assert not np.array_equal(a[0].samples, c[0].samples)


def test_class_audio_refuses_unknown_classes_and_no_items() -> None:
    with pytest.raises(ConfigError, match="clean_en"):
        corpus.class_audio("speech")
    with pytest.raises(ConfigError):
        corpus.class_audio("noise", max_items=0)


# --- evaluate with a real model -----------------------------------------------------------------

REQUIRED = {
    "item_id", "audio_class", "language", "audio_s", "wall_s", "transcribe_s", "iterate_s",
    "rtf", "windows", "attempts", "attempts_max", "attempts_per_window", "fallbacks",
    "n_segments", "tokens", "verdicts", "hypothesis", "reference", "reference_norm",
    "hypothesis_norm", "errors", "ref_len", "unit", "error_rate", "hyp_words", "known_phrases",
    "cfg_beam_size",
    "cfg_temperature", "cfg_seed", "config_hash", "seed", "model", "code_version",
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_en(whisper_models: None) -> TracedModel:
    return load_model("tiny.en")


@pytest.mark.model
def test_evaluate_scores_speech_and_non_speech(tiny_en: TracedModel) -> None:
    jfk = corpus.get("jfk")
    items = [
        corpus.AudioItem("clean_en/jfk", jfk.load(), jfk.reference_text, "en"),
        *corpus.class_audio("near_silence", length_s=3.0, max_items=1),
    ]
    config = preset("faster_whisper_default", beam_size=2)
    df = evaluate(tiny_en, config, items, progress=False)
    assert REQUIRED <= set(df.columns)
    assert list(df["item_id"]) == ["clean_en/jfk", "near_silence/seed0"]
    assert list(df["audio_class"]) == ["clean_en", "near_silence"]
    speech, silence = df.iloc[0], df.iloc[1]
    assert speech["error_rate"] < 0.2 and speech["unit"] == "word"
    assert speech["ref_len"] == 22 and "country" in speech["hypothesis"].lower()
    assert silence["reference"] == "" and silence["ref_len"] == 0
    assert silence["errors"] == silence["hyp_words"]
    assert list(df["audio_s"]) == pytest.approx([11.0, 3.0])
    assert (df["rtf"] == df["wall_s"] / df["audio_s"]).all()
    assert (df["cfg_beam_size"] == 2).all() and (df["config_hash"] == config.config_hash()).all()
    assert (df["windows"] == 1).all() and (df["attempts"] >= 1).all()


@pytest.mark.model
def test_the_gate_that_does_not_trim_decodes_speech_as_without_a_gate(
    tiny_en: TracedModel,
) -> None:
    """`vad_trim=False` (the `vad_skip` gate) only decides: speech with quiet around it decodes
    exactly as ungated, while the trimming gate decodes its spans (a different, shorter clip)."""
    jfk = corpus.get("jfk")
    quiet = np.zeros(3 * 16_000, dtype=np.float32)
    padded = np.concatenate([quiet, jfk.load(), quiet])
    items = [corpus.AudioItem("clean_en/jfk", padded, jfk.reference_text, "en")]
    config = preset("faster_whisper_default", beam_size=1, temperature=(0.0,))
    ungated = evaluate(tiny_en, config, items, progress=False).iloc[0]
    whole = evaluate(tiny_en, config, items, progress=False, vad_gate=True, vad_trim=False)
    trimmed = evaluate(tiny_en, config, items, progress=False, vad_gate=True).iloc[0]
    assert whole.iloc[0]["hypothesis"] == ungated["hypothesis"]
    assert whole.iloc[0]["audio_s"] == ungated["audio_s"] == pytest.approx(17.0)
    assert trimmed["audio_s"] < 16.0 and not trimmed["gated_out"]


@pytest.mark.model
def test_evaluate_refuses_no_items(tiny_en: TracedModel) -> None:
    with pytest.raises(ConfigError):
        evaluate(tiny_en, DecodeConfig(), [], progress=False)


# --- evaluate on scripted traces: the columns the fallback loop fills ---------------------------


def _attempt(window: int, index: int, verdict: str, tokens: int) -> Attempt:
    return Attempt(
        window=window, index=index, temperature=0.2 * index, mode="beam", beam_size=5,
        hypotheses=1, tokens=tokens, tokens_all=tokens, token_limit=224, seconds=0.5,
        compression_ratio=1.0, avg_logprob=-0.5, no_speech_prob=0.1, failed=(),
        verdict=verdict, text="",
    )  # fmt: skip


@dataclass
class _ScriptedModel:
    """Stands in for a TracedModel: `run` returns the next prepared trace."""

    traces: list[DecodeTrace]
    model_path: str
    name: str = "scripted"
    configs: list[DecodeConfig] = field(default_factory=list)

    def run(self, audio: np.ndarray, config: DecodeConfig) -> DecodeTrace:
        self.configs.append(config)
        return self.traces.pop(0)


def _trace(text: str, windows: list[Window]) -> DecodeTrace:
    segment = SegmentRecord(0, 0.0, 1.0, text, 0.0, -0.5, 1.0, 0.1)
    return DecodeTrace(
        model="scripted", audio_s=4.0, config={}, language="en", transcribe_s=0.5,
        iterate_s=1.5, windows=windows, segments=[segment] if text else [], finished=True,
    )  # fmt: skip


def test_evaluate_counts_fallbacks_and_inserted_words(tmp_path: Path) -> None:
    looping = _trace(
        " Thank you. Thank you.",
        [
            Window(0, attempts=[_attempt(0, 0, RETRY, 224), _attempt(0, 1, ALL_FAILED, 30)]),
            Window(1, attempts=[_attempt(1, 0, ACCEPTED, 10)]),
        ],
    )
    speech = _trace(" Hello there.", [Window(0, attempts=[_attempt(0, 0, ACCEPTED, 4)])])
    model = _ScriptedModel([looping, speech], model_path=str(tmp_path))
    items = [("noise/white", np.zeros(4), "", ""), ("unlabelled", np.zeros(4), None, "en")]
    config = DecodeConfig(beam_size=3, seed=11)
    df = evaluate(model, config, items, progress=False, repeat=2)  # type: ignore[arg-type]
    assert model.configs == [config, config]
    noise, unknown = df.iloc[0], df.iloc[1]
    assert noise["verdicts"] == "retry,all_failed|accepted"
    assert (noise["attempts"], noise["attempts_max"], noise["fallbacks"]) == (3, 2, 1)
    assert noise["attempts_per_window"] == 1.5 and noise["token_limit_hits"] == 1
    assert noise["tokens"] == 264 and noise["wall_s"] == 2.0 and noise["rtf"] == 0.5
    assert (noise["errors"], noise["ref_len"], noise["hyp_words"]) == (4, 0, 4)
    assert noise["error_rate"] == math.inf and noise["scored_as"] == "en"
    assert noise["hypothesis_norm"] == "thank you thank you"
    assert noise["known_phrases"] == 2 and pd.isna(unknown["known_phrases"])  # "Thank you." x 2
    assert unknown["audio_class"] == "" and math.isnan(unknown["error_rate"])
    assert pd.isna(unknown["reference"]) and unknown["hypothesis"] == "Hello there."
    assert (df["seed"] == 11).all() and (df["repeat"] == 2).all()
    assert (df["cfg_beam_size"] == 3).all() and df["model_sha256"].isna().all()


def test_audio_class_of_reads_the_id_prefix() -> None:
    assert audio_class_of("noisy_en_snr0/jfk+pink_noise_seed0") == "noisy_en_snr0"
    assert audio_class_of("jfk") == ""
