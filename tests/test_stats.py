"""Percentiles with their bootstrap (or order-statistic) intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asrlab.errors import ConfigError
from asrlab.stats import Estimate, percentile, percentiles


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
