"""Seeded, machine-independent choice of contexts per (dataset, split, domain)."""

from __future__ import annotations

import hashlib

import polars as pl

GROUP = ("dataset", "split", "domain")


def _rank_key(seed: int, context_id: str) -> str:
    return hashlib.sha256(f"{seed}:{context_id}".encode()).hexdigest()


def sample_contexts(df: pl.DataFrame, n_per_domain: int | None, seed: int) -> pl.DataFrame:
    """The ``n_per_domain`` contexts of each (dataset, split, domain) whose
    ``sha256(f"{seed}:{context_id}")`` is smallest (all of them for None), sorted by
    context_id.

    The order comes from hashlib rather than polars' RNG so that the same seed picks
    the same contexts on every machine and polars version, and a context's fate does
    not depend on which other contexts are in the table.
    """
    if n_per_domain is not None and n_per_domain < 0:
        raise ValueError(f"n_per_domain must be >= 0 or None, got {n_per_domain}")
    if n_per_domain is not None:
        keys = pl.Series("_rank", [_rank_key(seed, c) for c in df["context_id"]], dtype=pl.Utf8)
        df = (
            df.with_columns(keys)
            .sort([*GROUP, "_rank"])
            .filter(pl.int_range(pl.len()).over(GROUP) < n_per_domain)
            .drop("_rank")
        )
    return df.sort("context_id")
