"""Confidence intervals for before/after comparisons (scipy's bootstrap, seeded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def bootstrap_mean(values: Sequence[float], resamples: int, confidence: float, seed: int) -> Interval:
    """Mean of ``values`` with a BCa bootstrap interval.

    Pass one value per independent unit (for a paired comparison, the after − before difference
    of one prompt averaged over its samples): resampling replies of the same prompt as if they
    were independent would make the interval too narrow.
    """
    import numpy as np
    from scipy.stats import bootstrap

    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("bootstrap: no values")
    mean = float(data.mean())
    if data.size == 1 or np.allclose(data, data[0]):
        return Interval(mean, mean, mean, int(data.size))  # no spread: the interval is the point
    res = bootstrap(
        (data,), np.mean, n_resamples=resamples, confidence_level=confidence, method="BCa",
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (np.isfinite(low) and np.isfinite(high)):  # BCa can degenerate on very few distinct values
        res = bootstrap(
            (data,), np.mean, n_resamples=resamples, confidence_level=confidence, method="percentile",
            rng=np.random.default_rng(seed),
        )  # fmt: skip
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Interval(mean, low, high, int(data.size))
