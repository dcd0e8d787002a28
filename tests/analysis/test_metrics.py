"""Error rates on hand-checked pairs, and speed ratios."""

from __future__ import annotations

import math

import pytest

from asrlab.analysis.metrics import (
    ErrorCounts,
    error_counts,
    error_rate,
    normalize,
    rtf,
    rtfx,
    unit_of,
    units,
)
from asrlab.errors import ConfigError

# (reference, hypothesis, language, errors, ref_len): each counted by hand after normalisation.
CASES = [
    # English, Whisper's normaliser: the same text once normalised.
    ("Hello, World!", "hello world", "en", 0, 2),
    ("I'm here.", "I am here", "en", 0, 3),
    ("the colour red", "the color red", "en", 0, 3),
    ("Mr. Smith arrived", "mister smith arrived", "en", 0, 3),
    ("twenty five apples", "25 apples", "en", 0, 2),
    ("in twenty twelve", "in 2012", "en", 0, 2),
    ("one apple", "1 apple", "en", 0, 2),  # a lone "1" becomes "one", not the reverse
    ("uh, I see [Music]", "I see", "en", 0, 2),  # fillers and annotations dropped
    # English: one edit of each kind, and nothing decoded.
    ("the cat sat", "the bat sat", "en", 1, 3),
    ("the cat sat", "the cat sat down", "en", 1, 3),
    ("the cat sat", "the sat", "en", 1, 3),
    ("the cat sat", "", "en", 3, 3),
    # Non-speech: the right transcript is nothing; every decoded word is an insertion.
    ("", "Thank you.", "en", 2, 0),
    ("", "", "en", 0, 0),
    # Chinese, by character: traditional = simplified, numerals = digits, punctuation ignored.
    ("這是一個測試", "这是一个测试", "zh", 0, 6),
    ("2012年", "二零一二年", "zh", 0, 5),
    ("3个", "三个", "zh", 0, 2),
    ("二十五个人", "25个人", "zh", 0, 4),
    ("你好，世界。", "「你好」 世界！", "zh", 0, 4),
    ("这是 一个 测试", "这是一个测试", "zh", 0, 6),
    ("广州市房地产中介协会分析", "广州市房地产中介协会分折", "zh", 1, 12),
    ("我认为跑步最重要", "我认为跑步是最重要", "zh", 1, 8),
    ("甚至出现交易几乎停滞的情况", "甚至出现交易几乎停滞情况", "zh", 1, 13),
    ("你好世界", "", "zh", 4, 4),
    # Other languages: Whisper's basic normaliser, by word.
    ("Bonjour, le monde !", "bonjour le monde", "fr", 0, 3),
    ("Hallo Welt", "Hallo Welten", "de", 1, 2),
]


@pytest.mark.parametrize(("reference", "hypothesis", "language", "errors", "ref_len"), CASES)
def test_error_counts_table(
    reference: str, hypothesis: str, language: str, errors: int, ref_len: int
) -> None:
    unit = "char" if language == "zh" else "word"
    assert error_counts(reference, hypothesis, language) == ErrorCounts(
        errors, ref_len, unit
    )


def test_normalize_chinese_end_to_end() -> None:
    assert normalize("這是一個測試，二零一二年（笑）！", "zh") == "这是1个测试2012年"
    assert normalize("ＡＢＣ　１２３", "zh") == "abc123"  # full width -> ASCII


def test_normalize_english_is_whispers() -> None:
    assert normalize("Mr. Smith's colour, twenty-five!", "en") == "mister smith is color 25"


def test_error_rate_is_errors_over_reference_length() -> None:
    assert error_rate("the cat sat down", "the bat sat", "en") == pytest.approx(0.5)
    assert error_rate("你好世界", "你好", "zh") == pytest.approx(0.5)


def test_units_are_words_or_characters() -> None:
    assert units("ask not what", "en") == ["ask", "not", "what"]
    assert units("你好", "zh") == ["你", "好"]
    assert unit_of("ZH") == "char" and unit_of("fr") == "word"


def test_counts_add_up_to_a_corpus_rate() -> None:
    a, b = ErrorCounts(1, 3, "word"), ErrorCounts(2, 7, "word")
    assert a + b == ErrorCounts(3, 10, "word")
    assert sum([a, b]) == ErrorCounts(3, 10, "word")
    assert (a + b).rate == pytest.approx(0.3)  # not the mean of 1/3 and 2/7


def test_rate_with_an_empty_reference() -> None:
    assert ErrorCounts(0, 0, "word").rate == 0.0
    assert ErrorCounts(2, 0, "word").rate == math.inf


@pytest.mark.parametrize(
    "make",
    [
        lambda: ErrorCounts(1, 3, "word") + ErrorCounts(1, 3, "char"),
        lambda: ErrorCounts(-1, 3, "word"),
        lambda: ErrorCounts(1, 3, "token"),
        lambda: error_counts("a", "b", ""),
        lambda: normalize("a", None),  # type: ignore[arg-type]
    ],
)
def test_bad_counts_and_languages_raise(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        make()


def test_rtf_and_rtfx() -> None:
    assert rtf(2.0, 4.0) == pytest.approx(0.5)
    assert rtfx(2.0, 4.0) == pytest.approx(2.0)
    assert rtfx(0.0, 4.0) == math.inf


@pytest.mark.parametrize(
    ("processing_s", "audio_s"),
    [(1.0, 0.0), (1.0, -2.0), (1.0, math.nan), (-1.0, 2.0), (math.nan, 2.0)],
)
def test_rtf_refuses_impossible_durations(processing_s: float, audio_s: float) -> None:
    with pytest.raises(ConfigError):
        rtf(processing_s, audio_s)
    with pytest.raises(ConfigError):
        rtfx(processing_s, audio_s)
