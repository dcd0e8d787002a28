"""Percentiles with confidence intervals: what every latency and lease-wait figure is quoted as.

Tail percentiles of timings are what a deadline is set from; with tens of runs they are noisy, so
each comes with a percentile-bootstrap interval (`scipy.stats.bootstrap`), or above
`LARGE_SAMPLE` values (a simulation's) the exact order-statistic interval. Accuracy differences
between two presets are paired (`paired_rate_difference`): the same utterances, resampled together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from asrlab.errors import ConfigError


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap confidence interval.

    Attributes:
        value: the statistic of the sample itself.
        low, high: the interval's bounds.
        n: sample size.
        confidence: the interval's confidence level, e.g. 0.95.
    """

    value: float
    low: float
    high: float
    n: int
    confidence: float

    def __str__(self) -> str:
        interval = f"[{self.low:.4g}, {self.high:.4g}]"
        return f"{self.value:.4g} {interval} ({self.confidence:.0%}, n={self.n})"


LARGE_SAMPLE = 5_000  # above this many values, `percentile` takes the order-statistic interval


def percentile(
    values: Iterable[float] | np.ndarray,
    q: float,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """The `q`-th percentile (0..100, linear interpolation) with a percentile-bootstrap interval.

    Tail percentiles of timings are what a deadline is set from, and with tens of runs they are
    uncertain: the interval says how much. It comes from `scipy.stats.bootstrap` with the
    percentile method (BCa fails on the ties and skew timings have); `seed` makes it repeatable.
    Above `LARGE_SAMPLE` values (a simulation's) the interval is the exact order-statistic one.
    A single value, or values all equal, have nothing to resample: ``low == high == value``.

    Raises:
        ConfigError: no values, a non-finite value, `q` outside [0, 100], `confidence` outside
            (0, 1), or `n_resamples` < 1.
    """
    from scipy.stats import bootstrap

    x = _as_array(values)
    if x.size == 0:
        raise ConfigError("values", [], "need at least one value")
    if not np.isfinite(x).all():
        raise ConfigError("values", f"{int((~np.isfinite(x)).sum())} non-finite", "drop them first")
    if not 0 <= q <= 100:
        raise ConfigError("q", q, "must lie in [0, 100]")
    if not 0 < confidence < 1:
        raise ConfigError("confidence", confidence, "must lie in (0, 1)")
    if n_resamples < 1:
        raise ConfigError("n_resamples", n_resamples, "must be >= 1")
    value = float(np.percentile(x, q))
    if x.size == 1 or np.all(x == x[0]):
        return Estimate(value, value, value, int(x.size), confidence)
    if x.size > LARGE_SAMPLE:
        return _order_statistic_interval(x, q, value, confidence)
    result = bootstrap(
        (x,),
        lambda sample, axis: np.percentile(sample, q, axis=axis),
        vectorized=True,
        n_resamples=n_resamples,
        batch=max(1, 2_000_000 // x.size),  # resamples per batch: caps memory at ~16 MB
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Estimate(value, float(low), float(high), int(x.size), confidence)


def _order_statistic_interval(x: np.ndarray, q: float, value: float, confidence: float) -> Estimate:
    """The distribution-free interval of a quantile from two order statistics.

    The number of values below the true q-th percentile is Binomial(n, q/100), so the sorted
    values at its two tail ranks bracket it with at least `confidence`; no resampling, which on
    100,000 simulated jobs would take minutes.
    """
    from scipy.stats import binom

    n, p, alpha = x.size, q / 100.0, 1.0 - confidence
    lo = int(binom.ppf(alpha / 2, n, p))  # 1-based rank of the lower bound
    hi = int(binom.ppf(1 - alpha / 2, n, p)) + 1
    ordered = np.sort(x)
    low, high = ordered[max(lo, 1) - 1], ordered[min(hi, n) - 1]
    return Estimate(value, float(min(low, value)), float(max(high, value)), int(n), confidence)


def percentiles(
    values: Iterable[float] | np.ndarray, qs: Sequence[float] = (50, 95, 99), **kw: Any
) -> dict[str, Estimate]:
    """`percentile` for each of `qs`, keyed ``"p50"``, ``"p95"``, ``"p99.9"`` ...; `kw` as there."""
    x = _as_array(values)
    return {f"p{q:g}": percentile(x, q, **kw) for q in qs}


def _as_array(values: Iterable[float] | np.ndarray) -> np.ndarray:
    """1-D float64 copy of `values` (a generator, a list, a pandas Series or an array)."""
    items = values if isinstance(values, np.ndarray) else list(values)
    return np.asarray(items, dtype=float).ravel()


def paired_rate_difference(
    base_errors: Iterable[float] | np.ndarray,
    other_errors: Iterable[float] | np.ndarray,
    ref_len: Iterable[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """How much higher `other`'s pooled error rate is than `base`'s on the same utterances.

    The rate is ``sum(errors) / sum(ref_len)`` (a corpus WER or CER, not a mean of rates); the
    difference is other's minus base's, so a positive value means `other` makes more errors. The
    interval is a paired percentile bootstrap: utterances are resampled, and each keeps both its
    decodes, so the interval reflects how the two differ on the same speech, not how hard the
    speech is. Two decodes that agree on every utterance differ by exactly 0, with no spread.

    Args:
        base_errors, other_errors: errors (substitutions + deletions + insertions) per utterance.
        ref_len: reference length (words or characters) per utterance, the same for both.

    Raises:
        ConfigError: the three differ in length, there are none, a value is negative or not
            finite, the references are all empty, or `confidence` / `n_resamples` is out of range.
    """
    from scipy.stats import bootstrap

    base, other, ref = (_as_array(v) for v in (base_errors, other_errors, ref_len))
    if not base.size == other.size == ref.size:
        raise ConfigError(
            "errors", (base.size, other.size, ref.size), "need one value per utterance in each"
        )
    if base.size == 0:
        raise ConfigError("errors", [], "need at least one utterance")
    stacked = np.stack([base, other, ref])
    if not np.isfinite(stacked).all() or (stacked < 0).any():
        raise ConfigError("errors", "negative or non-finite", "counts must be finite and >= 0")
    if ref.sum() <= 0:
        raise ConfigError("ref_len", float(ref.sum()), "the references hold no words")
    if not 0 < confidence < 1:
        raise ConfigError("confidence", confidence, "must lie in (0, 1)")
    if n_resamples < 1:
        raise ConfigError("n_resamples", n_resamples, "must be >= 1")

    def difference(b: np.ndarray, o: np.ndarray, r: np.ndarray, axis: int = -1) -> np.ndarray:
        # A resample whose references are all empty has no rate; it counts as no difference.
        total = r.sum(axis=axis)
        return (o.sum(axis=axis) - b.sum(axis=axis)) / np.where(total > 0, total, np.inf)

    value = float(difference(base, other, ref))
    if base.size == 1 or np.array_equal(base, other):
        return Estimate(value, value, value, int(base.size), confidence)
    result = bootstrap(
        (base, other, ref),
        difference,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Estimate(
        value, float(min(low, value)), float(max(high, value)), int(base.size), confidence
    )
