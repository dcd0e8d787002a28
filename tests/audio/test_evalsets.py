"""Labelled evaluation sets: the bundled ones, a folder of your own, and every malformed folder."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from asrlab.audio import corpus, evalsets
from asrlab.audio.samples import SAMPLE_RATE_HZ
from asrlab.errors import ConfigError


def _folder(tmp_path: Path, clips: list[str], tsv: str | None) -> Path:
    """A folder of 0.5 s tones named `clips` (``a.wav``), and references.tsv holding `tsv`."""
    folder = tmp_path / "myset"
    folder.mkdir()
    t = np.arange(SAMPLE_RATE_HZ // 2) / SAMPLE_RATE_HZ
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    for name in clips:
        with wave.open(str(folder / name), "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(SAMPLE_RATE_HZ)
            f.writeframes(pcm)
    if tsv is not None:
        (folder / "references.tsv").write_text(tsv, encoding="utf-8")
    return folder


def test_a_folder_of_your_own_loads_in_reference_order(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["b.wav", "a.wav"], "b\t第二句\na\t第一句\n\n")
    items = evalsets.parse(f"zh:{folder}").items()
    assert [it.item_id for it in items] == ["myset/b", "myset/a"]
    assert [it.reference for it in items] == ["第二句", "第一句"]
    assert {it.language for it in items} == {"zh"} and len(items[0].samples) == 8000
    assert [it.item_id for it in evalsets.set_items(f"zh:{folder}", max_items=1)] == ["myset/b"]


@pytest.mark.parametrize(
    ("clips", "tsv", "language", "message"),
    [
        (["a.wav"], "a\tyes\n", "xx", "not a Whisper language code"),
        (["a.wav"], None, "en", "needs references.tsv"),
        (["a.wav"], "a yes\n", "en", "line 1: expected <clip id> TAB <reference>"),
        (["a.wav"], "a\tyes\na\tagain\n", "en", "line 2: a listed twice"),
        (["a.wav"], "a\t  \n", "en", "line 1: a has an empty reference"),
        (["a.wav"], "a\tyes\nb\tno file\n", "en", "line 2: no audio file for b"),
        (["a.wav", "c.wav"], "a\tyes\n", "en", "no reference for c"),
        ([], "", "en", "no clips listed"),
    ],
)
def test_a_malformed_folder_is_refused_with_what_to_fix(
    tmp_path: Path, clips: list[str], tsv: str | None, language: str, message: str
) -> None:
    folder = _folder(tmp_path, clips, tsv)
    with pytest.raises(ConfigError, match=message):
        evalsets.parse(f"{language}:{folder}").items()


def test_no_such_folder_and_a_spec_without_a_language(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such folder"):
        evalsets.parse(f"en:{tmp_path / 'missing'}").items()
    with pytest.raises(ConfigError, match="LANG:PATH"):
        evalsets.parse(str(tmp_path))


def test_a_clip_that_is_not_audio_names_its_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, [], "bad\tyes\n")
    (folder / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(Exception, match="bad.wav"):
        evalsets.parse(f"en:{folder}").items()


@pytest.mark.parametrize(
    ("name", "language", "n", "licence"),
    [
        ("librispeech_test_other_100", "en", 100, "LICENSE.TXT"),
        ("zh_clean_20", "zh", 20, "README.md"),
    ],
)
def test_the_bundled_sets(name: str, language: str, n: int, licence: str) -> None:
    chosen = evalsets.BUNDLED[name]
    assert (chosen.folder / licence).is_file()  # the attribution ships with the audio
    listed = chosen.check()
    assert len(listed) + len(chosen.corpus_clips) == n
    first = evalsets.set_items(name, max_items=2)
    assert len(first) == 2 and all(it.language == language and it.reference for it in first)


def test_the_mandarin_set_joins_the_corpus_aishell_clips() -> None:
    chosen = evalsets.BUNDLED["zh_clean_20"]
    assert len(chosen.check()) == 15 and len(chosen.corpus_clips) == 5
    assert all(corpus.get(c).reference_text for c in chosen.corpus_clips)


def test_corpus_classes_and_sets_share_one_name_space() -> None:
    assert [it.item_id for it in evalsets.set_items("noise", max_items=1)] == [
        it.item_id for it in corpus.class_audio("noise", max_items=1)
    ]
    assert not evalsets.is_labelled_set("clean_en") and evalsets.is_labelled_set("zh_clean_20")


def test_long_form_items_span_several_windows() -> None:
    en, zh = evalsets.long_form_items()
    for item, language in ((en, "en"), (zh, "zh")):
        assert item.item_id.startswith("long_form/") and item.language == language
        assert len(item.samples) / SAMPLE_RATE_HZ > 60.0 and item.reference
    assert zh.reference.startswith(evalsets.BUNDLED["zh_clean_20"].items(1)[0].reference or "")


def test_a_relative_folder_is_resolved_against_the_experiment(tmp_path: Path) -> None:
    assert evalsets.resolved("zh_clean_20", tmp_path) == "zh_clean_20"
    assert evalsets.resolved("noise", tmp_path) == "noise"
    assert evalsets.resolved("zh:sets/mine", tmp_path) == f"zh:{(tmp_path / 'sets/mine')}"
    assert evalsets.resolved("zh:/abs/mine", tmp_path) == "zh:/abs/mine"


def test_a_copied_bundled_folder_reads_as_a_folder_of_your_own(tmp_path: Path) -> None:
    """The bundled sets are plain folders: what a user copies and edits reads the same way."""
    mine = tmp_path / "zh_more_15"
    shutil.copytree(evalsets.BUNDLED["zh_clean_20"].folder, mine)
    assert list(evalsets.parse(f"zh:{mine}").check()) == list(
        evalsets.BUNDLED["zh_clean_20"].check()
    )
