"""Error rates on hand-checked pairs, speed ratios, percentile intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asrlab import metrics
from asrlab.errors import ConfigError
from asrlab.metrics import ErrorCounts, Estimate

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
    assert metrics.error_counts(reference, hypothesis, language) == ErrorCounts(
        errors, ref_len, unit
    )


def test_normalize_chinese_end_to_end() -> None:
    assert metrics.normalize("這是一個測試，二零一二年（笑）！", "zh") == "这是1个测试2012年"
    assert metrics.normalize("ＡＢＣ　１２３", "zh") == "abc123"  # full width -> ASCII


def test_normalize_english_is_whispers() -> None:
    assert metrics.normalize("Mr. Smith's colour, twenty-five!", "en") == "mister smith is color 25"


def test_error_rate_is_errors_over_reference_length() -> None:
    assert metrics.error_rate("the cat sat down", "the bat sat", "en") == pytest.approx(0.5)
    assert metrics.error_rate("你好世界", "你好", "zh") == pytest.approx(0.5)


def test_units_are_words_or_characters() -> None:
    assert metrics.units("ask not what", "en") == ["ask", "not", "what"]
    assert metrics.units("你好", "zh") == ["你", "好"]
    assert metrics.unit_of("ZH") == "char" and metrics.unit_of("fr") == "word"


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
        lambda: metrics.error_counts("a", "b", ""),
        lambda: metrics.normalize("a", None),  # type: ignore[arg-type]
    ],
)
def test_bad_counts_and_languages_raise(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        make()


def test_rtf_and_rtfx() -> None:
    assert metrics.rtf(2.0, 4.0) == pytest.approx(0.5)
    assert metrics.rtfx(2.0, 4.0) == pytest.approx(2.0)
    assert metrics.rtfx(0.0, 4.0) == math.inf


@pytest.mark.parametrize(
    ("processing_s", "audio_s"),
    [(1.0, 0.0), (1.0, -2.0), (1.0, math.nan), (-1.0, 2.0), (math.nan, 2.0)],
)
def test_rtf_refuses_impossible_durations(processing_s: float, audio_s: float) -> None:
    with pytest.raises(ConfigError):
        metrics.rtf(processing_s, audio_s)
    with pytest.raises(ConfigError):
        metrics.rtfx(processing_s, audio_s)


def test_percentile_of_a_known_sample() -> None:
    est = metrics.percentile(np.arange(101), 95)
    assert est.value == pytest.approx(95.0)
    assert est.low <= est.value <= est.high
    assert est.low < est.high and est.n == 101 and est.confidence == 0.95
    median = metrics.percentile(np.arange(101), 50)
    assert median.value == 50.0 and 40 <= median.low < 50 < median.high <= 60


def test_percentile_interval_contains_the_value_and_narrows_with_n() -> None:
    rng = np.random.default_rng(1)
    small = metrics.percentile(rng.lognormal(size=30), 50)
    large = metrics.percentile(rng.lognormal(size=3000), 50)
    for est in (small, large):
        assert est.low <= est.value <= est.high
    assert large.high - large.low < small.high - small.low


def test_percentile_is_seeded() -> None:
    x = np.random.default_rng(2).normal(size=500)
    first = metrics.percentile(x, 90, seed=7, n_resamples=200)
    assert metrics.percentile(list(x), 90, seed=7, n_resamples=200) == first
    other = metrics.percentile(x, 90, seed=8, n_resamples=200)
    assert other.value == first.value and (other.low, other.high) != (first.low, first.high)


def test_percentile_of_one_value_or_equal_values() -> None:
    assert metrics.percentile([3.5], 99) == Estimate(3.5, 3.5, 3.5, 1, 0.95)
    assert metrics.percentile([2.0] * 5, 50, confidence=0.9) == Estimate(2.0, 2.0, 2.0, 5, 0.9)


def test_percentiles_are_keyed_by_q() -> None:
    out = metrics.percentiles(range(101), qs=(50, 95, 99.9), n_resamples=200)
    assert list(out) == ["p50", "p95", "p99.9"]
    assert out["p50"].value == 50.0 and out["p99.9"].value == pytest.approx(99.9)
    assert list(metrics.percentiles([1.0, 2.0])) == ["p50", "p95", "p99"]


@pytest.mark.parametrize(
    ("values", "kw"),
    [
        ([], {}),
        ([1.0, math.nan], {}),
        ([1.0, math.inf], {}),
        ([1.0, 2.0], {"q": 101}),
        ([1.0, 2.0], {"q": -1}),
        ([1.0, 2.0], {"confidence": 1.0}),
        ([1.0, 2.0], {"n_resamples": 0}),
    ],
)
def test_percentile_refuses_bad_input(values: list[float], kw: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        metrics.percentile(values, **({"q": 50} | kw))  # type: ignore[arg-type]
