"""Confidence intervals for before/after comparisons (scipy's bootstrap, seeded) and the spread of who spoke."""

from __future__ import annotations

import math
from collections import Counter
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

    # Rounded: means summed in another row order (a resumed run's) differ in the last bit, and with few
    # units BCa's bias correction counts resamples tied with the observed mean, so one bit moved the interval.
    data = np.round(np.asarray(values, dtype=float), 9)
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


def paired_gains(
    table, unit: Sequence[str], columns: Sequence[str], resamples: int, confidence: float, seed: int
) -> dict[str, Interval | None]:
    """Per column, the after − before difference with a bootstrap interval over units.

    ``table`` (polars) has a ``policy`` column ("before" / "after"); the rows of one unit and policy
    (the samples of one prompt) are averaged first, since they are not independent. A column with
    no unit measured under both policies (all null) gets None.
    """
    import polars as pl

    units = (
        table.group_by(*unit, "policy")
        .agg(pl.col(*columns).cast(pl.Float64).mean())
        .pivot(on="policy", index=list(unit), values=list(columns))
        .sort(*unit)
    )
    out: dict[str, Interval | None] = {}
    for column in columns:
        before, after = (f"{column}_before", f"{column}_after") if len(columns) > 1 else ("before", "after")
        diffs = (units[after] - units[before]).drop_nulls().to_list()
        out[column] = bootstrap_mean(diffs, resamples, confidence, seed) if diffs else None
    return out


def gain_metrics(name: str, interval: Interval | None) -> dict[str, float]:
    """Flat metrics keys for one difference: {name}_gain, _gain_ci_low, _gain_ci_high."""
    if interval is None:
        return {}
    return {f"{name}_gain": round(interval.mean, 4), f"{name}_gain_ci_low": round(interval.low, 4),
            f"{name}_gain_ci_high": round(interval.high, 4)}  # fmt: skip


def run_ends(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean of the first and of the last quarter of a logged curve (one step alone is noise)."""
    if not values:
        return None, None
    span = max(1, len(values) // 4)
    return round(sum(values[:span]) / span, 4), round(sum(values[-span:]) / span, 4)


def speaker_entropy(speakers: Sequence[str], group_size: int) -> float:
    """Entropy of who spoke, divided by its maximum log(group size): 0 = always the same agent,
    1 = every agent equally often."""
    counts = Counter(speakers)
    n = sum(counts.values())
    if n == 0 or group_size < 2:
        return 0.0
    return -sum(c / n * math.log(c / n) for c in counts.values()) / math.log(group_size)
