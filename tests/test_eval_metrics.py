"""Automatic evaluation metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mascot.eval.backends import HiddenReasoning, SelfConsistency, visible_reply
from mascot.eval.metrics import distinct_n, identifiability, length_stats, tokens
from mascot.llm import Generation, SamplingParams


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


@pytest.mark.parametrize(
    "text, visible, closed",
    [
        ("<think>She is scared of failing.</think> That sounds scary.", "That sounds scary.", True),
        ("<THINK>a</think>b</think> Final words.", "Final words.", True),
        ("<think>She is scared and I should", "She is scared and I should", False),
        ("No reasoning at all.", "No reasoning at all.", False),
    ],
)  # fmt: skip
def test_only_the_reply_after_the_reasoning_is_shown(text, visible, closed):
    assert visible_reply(text) == (visible, closed)


class Scripted:
    """A backend that answers from a script and records what it was asked."""

    name = model_name = "scripted"

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def count_tokens(self, messages):
        return 1

    def generate(self, prompts, params, seeds, adapter=None):
        self.calls.append((prompts, params, seeds))
        return [Generation(self.answers.pop(0), "", 1, "stop") for _ in prompts]


def test_hidden_reasoning_asks_for_it_gives_room_and_counts_misses():
    inner = Scripted(["<think>x</think> Hi.", "forgot the format"])
    wrapped = HiddenReasoning(inner, extra_tokens=32)
    out = wrapped.generate([[{"role": "user", "content": "Hello"}]] * 2, SamplingParams(max_new_tokens=16), [1, 2])
    assert [g.text for g in out] == ["Hi.", "forgot the format"]
    prompts, params, _ = inner.calls[0]
    assert prompts[0][-1]["content"].startswith("Hello\n") and "<think>" in prompts[0][-1]["content"]
    assert params.max_new_tokens == 48 and (wrapped.replies, wrapped.format_misses) == (2, 1)


class Embedder:
    """Texts to fixed unit vectors."""

    VECTORS = {"calm": (1, 0), "steady": (0.9, 0.1), "wild": (0, 1)}

    def encode(self, texts, **kw):
        v = np.array([self.VECTORS[t] for t in texts], dtype=float)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_self_consistency_keeps_the_sample_the_others_agree_with():
    inner = Scripted(["wild", "calm", "steady"])
    out = SelfConsistency(inner, 3, Embedder()).generate([[{"role": "user", "content": "x"}]], SamplingParams(), [7])
    assert out[0].text == "steady"  # between the other two: the closest to both on average
    prompts, _, seeds = inner.calls[0]
    assert len(prompts) == 3 and len(set(seeds)) == 3  # three samples, each with its own seed
