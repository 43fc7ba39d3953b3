"""Automatic evaluation metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mascot.eval.metrics import distinct_n, identifiability, length_stats, tokens


def test_tokens_split_words_and_punctuation():
    assert tokens("That's OK, really!") == ["that", "'", "s", "ok", ",", "really", "!"]


def test_distinct_n_by_hand():
    texts = ["I hear you. I hear you.", "I hear"]
    # tokens: [i hear you . i hear you .] + [i hear]; unigrams: 10 total, distinct {i, hear, you, .} = 4
    assert distinct_n(texts, 1) == pytest.approx(4 / 10)
    # bigrams: (i,hear)(hear,you)(you,.)(.,i)(i,hear)(hear,you)(you,.) + (i,hear) = 8 total, 4 distinct;
    # none crosses from the first text into the second
    assert distinct_n(texts, 2) == pytest.approx(4 / 8)
    assert distinct_n(["one"], 2) is None and distinct_n([], 1) is None


def unit(*v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def test_identifiability_leaves_the_turns_own_reply_out():
    a, b = unit(1, 0), unit(0, 1)
    vectors = np.stack([a, b, a, b, a, b, b, a])
    personas = ["anchor", "beacon"] * 4
    replies = [0, 0, 1, 1, 2, 2, 3, 3]
    # replies 0-2 keep the voices apart; reply 3 swaps them. A turn of replies 0-2 sees centroids from
    # two good replies and the swapped one (anchor ≈ (2/3, 1/3)): right. A turn of reply 3 sees only
    # the good replies: wrong. 6 of 8.
    acc, n = identifiability(vectors, personas, replies)
    assert (acc, n) == (pytest.approx(6 / 8), 8)
    # distinct voices throughout: every turn is told apart
    acc, _ = identifiability(np.stack([a, b, a, b, a, b]), ["anchor", "beacon"] * 3, [0, 0, 1, 1, 2, 2])
    assert acc == 1.0


def test_identifiability_needs_two_personas_elsewhere():
    vectors = np.stack([unit(1, 0), unit(0, 1)])
    assert identifiability(vectors, ["anchor", "beacon"], [0, 0]) == (None, 0)  # nothing outside the reply


def test_length_stats():
    assert length_stats(["a b c", "d"], [2, 1, 3]) == {"words_per_turn": 2.0, "turns_per_reply": 2.0}
    assert length_stats([], []) == {"words_per_turn": None, "turns_per_reply": None}
