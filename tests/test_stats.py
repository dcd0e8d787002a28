"""Percentiles with their bootstrap (or order-statistic) intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asrlab.errors import ConfigError
from asrlab.stats import Estimate, paired_rate_difference, percentile, percentiles


def test_percentile_of_a_known_sample() -> None:
    est = percentile(np.arange(101), 95)
    assert est.value == pytest.approx(95.0)
    assert est.low <= est.value <= est.high
    assert est.low < est.high and est.n == 101 and est.confidence == 0.95
    median = percentile(np.arange(101), 50)
    assert median.value == 50.0 and 40 <= median.low < 50 < median.high <= 60


def test_percentile_interval_contains_the_value_and_narrows_with_n() -> None:
    rng = np.random.default_rng(1)
    small = percentile(rng.lognormal(size=30), 50)
    large = percentile(rng.lognormal(size=3000), 50)
    for est in (small, large):
        assert est.low <= est.value <= est.high
    assert large.high - large.low < small.high - small.low


def test_percentile_is_seeded() -> None:
    x = np.random.default_rng(2).normal(size=500)
    first = percentile(x, 90, seed=7, n_resamples=200)
    assert percentile(list(x), 90, seed=7, n_resamples=200) == first
    other = percentile(x, 90, seed=8, n_resamples=200)
    assert other.value == first.value and (other.low, other.high) != (first.low, first.high)


def test_percentile_of_one_value_or_equal_values() -> None:
    assert percentile([3.5], 99) == Estimate(3.5, 3.5, 3.5, 1, 0.95)
    assert percentile([2.0] * 5, 50, confidence=0.9) == Estimate(2.0, 2.0, 2.0, 5, 0.9)


def test_percentiles_are_keyed_by_q() -> None:
    out = percentiles(range(101), qs=(50, 95, 99.9), n_resamples=200)
    assert list(out) == ["p50", "p95", "p99.9"]
    assert out["p50"].value == 50.0 and out["p99.9"].value == pytest.approx(99.9)
    assert list(percentiles([1.0, 2.0])) == ["p50", "p95", "p99"]


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
        percentile(values, **({"q": 50} | kw))  # type: ignore[arg-type]


def _paired_counts(n: int, worse: int, better: int, errors: int = 2, ref: int = 20):
    """`n` utterances of `ref` words with `errors` each under the base; `worse` of them get one
    error more under the other decode and `better` one fewer: a known difference of
    (worse - better) / (n * ref)."""
    base = np.full(n, errors)
    other = base.copy()
    other[:worse] += 1
    other[worse : worse + better] -= 1
    return base, other, np.full(n, ref)


# (n, worse, better): the point difference and whether the issue-20 bar holds (point <= +0.5
# points and the 95 % interval's upper end <= +1.5 points).
PAIRED = [
    (120, 0, 0, 0.0, True),  # the same decodes: exactly 0, no spread
    (120, 6, 6, 0.0, True),  # as many better as worse: 0, with a spread
    (120, 12, 0, 12 / 2400, True),  # +0.5 points, upper end within +1.5
    (120, 36, 0, 36 / 2400, False),  # +1.5 points: over the point bar
    (6, 1, 0, 1 / 120, False),  # +0.83 points on 6 utterances: too few to tell
    (120, 0, 24, -24 / 2400, True),  # better
]


@pytest.mark.parametrize(("n", "worse", "better", "value", "passes"), PAIRED)
def test_paired_rate_difference_on_hand_made_counts(
    n: int, worse: int, better: int, value: float, passes: bool
) -> None:
    est = paired_rate_difference(*_paired_counts(n, worse, better))
    assert est.value == pytest.approx(value) and est.n == n
    assert est.low <= est.value <= est.high
    if worse == better == 0:
        assert est.low == est.high == 0.0
    elif worse and better:
        assert est.low < 0 < est.high
    assert (est.value <= 0.005 and est.high <= 0.015) == passes


def test_paired_interval_is_narrower_than_unpaired_when_utterances_differ_in_difficulty() -> None:
    """Pairing removes how hard each utterance is: the same shift on easy and hard speech."""
    rng = np.random.default_rng(0)
    ref = np.full(200, 20)
    base = rng.integers(0, 10, 200)  # some utterances far harder than others
    other = base + (rng.random(200) < 0.2)
    paired = paired_rate_difference(base, other, ref)
    rate = lambda e: e.sum() / ref.sum()  # noqa: E731
    draws = [
        rate(other[rng.integers(0, 200, 200)]) - rate(base[rng.integers(0, 200, 200)])
        for _ in range(500)
    ]
    unpaired_width = np.percentile(draws, 97.5) - np.percentile(draws, 2.5)
    assert paired.high - paired.low < unpaired_width / 3


@pytest.mark.parametrize(
    ("base", "other", "ref", "message"),
    [
        ([1, 2], [1], [5, 5], "one value per utterance"),
        ([], [], [], "at least one"),
        ([1], [-1], [5], ">= 0"),
        ([1], [math.nan], [5], "finite"),
        ([0, 0], [1, 0], [0, 0], "no words"),
    ],
)
def test_paired_rate_difference_refuses_bad_counts(base, other, ref, message) -> None:
    with pytest.raises(ConfigError, match=message):
        paired_rate_difference(base, other, ref)
