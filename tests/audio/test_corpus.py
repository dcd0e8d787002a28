"""asrlab.audio.corpus: the manifest matches the files, and length sets hold what they say."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from asrlab.audio import corpus
from asrlab.audio.samples import SAMPLE_RATE_HZ, duration_s, validate
from asrlab.errors import ConfigError

CLIP_IDS = [c.clip_id for c in corpus.manifest()]

# FFmpeg drops multilingual.mp3's Info frame, encoder delay and padding (1824 samples at 24 kHz,
# 0.076 s) that the manifest's frame walk counted: see PROVENANCE.md.
DURATION_TOLERANCE_S = {"multilingual": 0.08}


def test_manifest_lists_exactly_the_bundled_audio() -> None:
    on_disk = {p.name for p in corpus.DATA_DIR.iterdir() if p.suffix in {".wav", ".flac", ".mp3"}}
    assert {c.path.name for c in corpus.manifest()} == on_disk
    assert len(corpus.manifest()) == 14


def test_manifest_keeps_the_original_columns() -> None:
    with corpus.MANIFEST_PATH.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert header == [
        "file", "language", "duration_s", "license", "source_repo", "source_path", "reference_text"
    ]  # fmt: skip


@pytest.mark.parametrize("clip_id", CLIP_IDS)
def test_clip_decodes_to_its_manifest_duration(clip_id: str) -> None:
    clip = corpus.get(clip_id)
    assert clip.path.is_file()
    samples = clip.load()
    assert samples.dtype == np.float32 and samples.ndim == 1
    tolerance_s = DURATION_TOLERANCE_S.get(clip_id, 0.05)
    assert duration_s(samples) == pytest.approx(clip.duration_s, abs=tolerance_s)


@pytest.mark.parametrize("clip_id", CLIP_IDS)
def test_clip_has_license_and_source(clip_id: str) -> None:
    clip = corpus.get(clip_id)
    assert clip.license.strip() and clip.source_repo.count("/") == 1 and clip.source_path
    assert clip.reference_text is None or clip.reference_text.strip()


def test_get_unknown_clip_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError) as info:
        corpus.get("no_such_clip")
    assert info.value.field == "clip_id"
    for clip_id in ("jfk", "zh_paddlespeech_zh", "multilingual"):
        assert clip_id in str(info.value)


@pytest.mark.parametrize(
    ("language", "with_reference", "expected"),
    [
        (None, None, 14),
        ("zh", None, 6),
        ("en", None, 7),  # 5 LibriSpeech, jfk, LJ Speech; multilingual is "en+de"
        ("en", True, 7),
        (None, False, 1),  # multilingual.mp3
        ("de", None, 0),
    ],
)
def test_clips_filter(language: str | None, with_reference: bool | None, expected: int) -> None:
    chosen = corpus.clips(language, with_reference)
    assert len(chosen) == expected
    assert all(language is None or c.language == language for c in chosen)


def test_clip_is_frozen() -> None:
    with pytest.raises(AttributeError):
        corpus.get("jfk").language = "de"  # type: ignore[misc]


ZH = corpus.clips("zh")
ZH_FIRST_THREE = "广州市房地产中介协会分析甚至出现交易几乎停滞的情况一二线城市虽然也处于调整中"
JFK_TEXT = corpus.get("jfk").reference_text


@pytest.mark.parametrize(
    ("clip_ids", "seconds", "expected_reference"),
    [
        # 4.281 + 0.3 + 4.204 + 0.3 = 9.085 s, then 2.115 s (51 %) of the 4.115 s third clip
        pytest.param([c.clip_id for c in ZH], 11.2, ZH_FIRST_THREE, id="zh_11.2s"),
        # 11 + 0.3 + 11 = 22.3 s, then 2.4 s (22 %) of a third copy: left out of the reference
        pytest.param(["jfk"], 25.0, f"{JFK_TEXT} {JFK_TEXT}", id="jfk_cycled"),
        pytest.param(["jfk"], 5.0, "", id="under_half_a_clip"),
    ],
)
def test_concat_to_length_reference(
    clip_ids: list[str], seconds: float, expected_reference: str
) -> None:
    samples, reference = corpus.concat_to_length([corpus.get(i) for i in clip_ids], seconds)
    assert samples.shape == (round(seconds * SAMPLE_RATE_HZ),)
    assert reference == expected_reference


@pytest.mark.parametrize("seconds", [5.0, 10.0, 30.0, 60.0, 120.0])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_concat_to_length_sets(language: str, seconds: float) -> None:
    samples, reference = corpus.concat_to_length(corpus.clips(language, True), seconds)
    assert samples.dtype == np.float32 and samples.shape == (round(seconds * 16_000),)
    assert reference and "  " not in reference
    assert (" " in reference) == (language == "en")
    validate(samples)


def test_concat_puts_silence_between_clips() -> None:
    first = ZH[0].load()
    samples, _ = corpus.concat_to_length(ZH[:2], 10.0, gap_s=0.5)
    np.testing.assert_array_equal(samples[: len(first)], first)
    assert not samples[len(first) : len(first) + 8000].any()


@pytest.mark.parametrize(
    ("clips", "kwargs", "field"),
    [
        ([], {"duration_s": 5.0}, "clips"),
        ([corpus.get("multilingual")], {"duration_s": 5.0}, "clips"),
        ([corpus.get("jfk")], {"duration_s": 0.0}, "duration_s"),
        ([corpus.get("jfk")], {"duration_s": 5.0, "gap_s": -0.1}, "gap_s"),
    ],
    ids=["no_clips", "no_reference", "zero_duration", "negative_gap"],
)
def test_concat_to_length_bad_arguments(
    clips: list[corpus.Clip], kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        corpus.concat_to_length(clips, **kwargs)
    assert info.value.field == field


# --- hard speech ----------------------------------------------------------------------------


def test_hard_speech_candidates_cover_both_languages_and_every_transform() -> None:
    candidates = corpus.hard_speech_candidates()
    names = [c.name for c in candidates]
    assert len(set(names)) == len(names)
    assert {c.language for c in candidates} == {"zh", "en"}
    assert {c.transform for c in candidates} == {"pink", "babble", "reversed"}
    snrs = {c.snr_db for c in candidates if c.snr_db is not None}
    assert min(snrs) == -10.0 and max(snrs) == -3.0
    assert set(corpus.HARD_SPEECH) <= set(names)


@pytest.mark.parametrize("name", ["zh_c0_pink-5dB", "en_c1_babble-3dB"])
def test_a_hard_speech_item_is_its_speech_at_the_snr_it_names(name: str) -> None:
    candidate = corpus.hard_speech(name)
    item = corpus.hard_speech_item(candidate)
    again = corpus.hard_speech_item(candidate)
    np.testing.assert_array_equal(item.samples, again.samples)  # the same every time
    assert duration_s(item.samples) == pytest.approx(corpus.HARD_SPEECH_LENGTH_S)
    pool = [c for c in corpus.clips(candidate.language, with_reference=True) if c.duration_s < 30]
    k = candidate.composition
    speech, reference = corpus.concat_to_length(pool[k:] + pool[:k], corpus.HARD_SPEECH_LENGTH_S)
    assert item.reference == reference and item.language == candidate.language
    noise = item.samples.astype(np.float64) - speech
    snr_db = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(noise**2))
    assert snr_db == pytest.approx(candidate.snr_db, abs=0.05)


def test_reversed_speech_holds_no_words() -> None:
    item = corpus.hard_speech_item(corpus.hard_speech("hard_speech/zh_c1_reversed"))
    assert (item.reference, item.language) == ("", "")
    assert item.item_id == "hard_speech/zh_c1_reversed"


def test_hard_speech_is_a_source_and_a_class() -> None:
    samples, label = corpus.load_source("hard_speech/en_c0_pink-7dB", length_s=11.2)
    assert label.startswith("hard_speech/en_c0_pink-7dB") and len(samples) == 11.2 * SAMPLE_RATE_HZ
    items = corpus.class_audio("hard_speech", max_items=50, length_s=1.0)  # the ids, not the audio
    assert [i.item_id.partition("/")[2] for i in items] == list(corpus.HARD_SPEECH)
    assert {len(i.samples) for i in items} == {SAMPLE_RATE_HZ}
    with pytest.raises(ConfigError, match="available: zh_c0_pink-10dB"):
        corpus.hard_speech("zh_c9_pink-5dB")
