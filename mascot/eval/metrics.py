"""Automatic metrics of group replies, no judge needed: distinct-n, redundancy between agents,
persona identifiability and length.

* **distinct-n** as expectation-adjusted distinct (EAD, Liu et al., 2022): distinct n-grams over every
  agent turn of a system, on lower-cased word and punctuation tokens, divided by the number of
  distinct n-grams expected from ``C`` draws out of a vocabulary of ``V``, ``V·(1 − ((V−1)/V)^C)``,
  instead of by ``C``. Raw distinct-n (distinct / C) falls as a system writes more, so short
  fragments win it; EAD does not reward writing less. ``V`` is the tokens seen over every system's
  turns on the same split, so all systems are measured against one vocabulary (Liu et al. take the
  tokenizer's, which at a few hundred tokens makes EAD equal raw distinct-n). Higher is more varied.
* **redundancy**: per reply, the mean cosine similarity of each agent turn with the one before it
  (sentence embeddings, :func:`mascot.embeddings.consecutive_similarity`); lower is less echoing.
* **identifiability**: can the persona be told from the words alone? Each agent turn is assigned to
  the persona whose centroid (the mean embedding of that persona's turns in the *other* replies of
  the same system) it is closest to; the accuracy, against the chance level 1 / personas, says how
  distinct the voices are. Leaving the turn's own reply out keeps a persona that speaks once from
  matching itself, and no classifier is trained on anything the system did not write.
* **length**: words per agent turn and agent turns per reply.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def ngram_counts(texts: Sequence[str], n: int) -> Counter:
    """Every n-gram of ``texts`` with its count (n-grams do not cross texts)."""
    grams: Counter = Counter()
    for text in texts:
        toks = tokens(text)
        grams.update(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return grams


def distinct_n(texts: Sequence[str], n: int) -> float | None:
    """Distinct n-grams over all n-grams of ``texts``; None without any."""
    grams = ngram_counts(texts, n)
    total = sum(grams.values())
    return len(grams) / total if total else None


def ead_n(texts: Sequence[str], n: int, vocab_size: int) -> float | None:
    """Expectation-adjusted distinct-n (Liu et al., 2022): distinct n-grams over those expected from
    as many uniform draws out of ``vocab_size``; None without any n-gram."""
    grams = ngram_counts(texts, n)
    total = sum(grams.values())
    if not total:
        return None
    v = max(vocab_size, len(grams))  # the vocabulary holds at least what was seen
    expected = v * (1 - ((v - 1) / v) ** total) if v > 1 else 1.0
    return len(grams) / expected


def identifiability(
    vectors: np.ndarray, personas: Sequence[str], replies: Sequence[object]
) -> tuple[float | None, int]:
    """Leave-one-reply-out nearest-centroid accuracy of telling each turn's persona from its
    embedding (rows of ``vectors``, L2-normalised); returns (accuracy, turns classified).

    A turn is classified only when at least two personas have turns in other replies; with one
    candidate there is nothing to tell apart.
    """
    personas, replies = np.asarray(personas), np.asarray(replies, dtype=object)
    names = sorted(set(personas.tolist()))
    hits = classified = 0
    for i in range(len(personas)):
        others = replies != replies[i]
        centroids, labels = [], []
        for name in names:
            mask = others & (personas == name)
            if mask.any():
                c = vectors[mask].mean(axis=0)
                centroids.append(c / (np.linalg.norm(c) or 1.0))
                labels.append(name)
        if len(labels) < 2:
            continue
        classified += 1
        hits += labels[int(np.argmax(np.stack(centroids) @ vectors[i]))] == personas[i]
    return (hits / classified if classified else None), classified


def length_stats(turn_texts: Sequence[str], turns_per_reply: Sequence[int]) -> dict[str, float | None]:
    words = [len(t.split()) for t in turn_texts]
    return {
        "words_per_turn": float(np.mean(words)) if words else None,
        "words_per_turn_median": float(np.median(words)) if words else None,
        "turns_per_reply": float(np.mean(turns_per_reply)) if len(turns_per_reply) else None,
    }
