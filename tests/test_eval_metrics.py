"""Automatic evaluation metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mascot.eval.backends import HiddenReasoning, MultiAgentESC, SelfConsistency, visible_reply
from mascot.eval.metrics import distinct_n, ead_n, identifiability, length_stats, tokens
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


def test_ead_by_hand_and_a_fragment_does_not_win_it():
    # "a b c": 3 draws, 3 distinct; from a vocabulary of 10, 10 * (1 - 0.9**3) = 2.71 are expected
    assert ead_n(["a b c"], 1, 10) == pytest.approx(3 / 2.71)
    fragment = ["Agreed ."]
    reply = ["It makes sense you feel tired , and it makes sense you want a break ."]
    vocab = len(set(tokens(fragment[0]) + tokens(reply[0])))
    assert distinct_n(fragment, 1) > distinct_n(reply, 1)  # raw distinct-n rewards writing less ...
    assert ead_n(reply, 1, vocab) > ead_n(fragment, 1, vocab)  # ... expectation-adjusted distinct does not
    assert ead_n(["one"], 2, 5) is None


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
    assert length_stats(["a b c", "d", "e f"], [2, 1, 3]) == {
        "words_per_turn": 2.0, "words_per_turn_median": 2.0, "turns_per_reply": 2.0
    }  # fmt: skip
    assert length_stats([], []) == {"words_per_turn": None, "words_per_turn_median": None, "turns_per_reply": None}


@pytest.mark.parametrize(
    "text, visible, closed",
    [
        ("<think>She is scared of failing.</think> That sounds scary.", "That sounds scary.", True),
        ("<THINK>a</think>b</think> Final words.", "Final words.", True),
        ("<think>She is scared and I should", "She is scared and I should", False),
        ("No reasoning at all.", "No reasoning at all.", False),
    ],
)
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
    chat = [{"role": "system", "content": "You are The Anchor."}, {"role": "user", "content": "Hello"}]
    out = wrapped.generate([chat] * 2, SamplingParams(max_new_tokens=16), [1, 2])
    assert [g.text for g in out] == ["Hi.", "forgot the format"]
    prompts, params, _ = inner.calls[0]
    # asked in the system message, beside the companion's own instructions; the person's words stay theirs
    assert prompts[0][0]["content"].startswith("You are The Anchor.\n") and "<think>" in prompts[0][0]["content"]
    assert prompts[0][1] == {"role": "user", "content": "Hello"}
    assert params.max_new_tokens == 48 and wrapped.tally == {"replies": 2, "misses": 1}
    assert wrapped.format_rates() == {"reasoning_format_rate": 0.5}


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


ESC_SCRIPT = [
    "Sad, strongly.", "Their dog died.", "They want comfort.",  # the three analysis agents
    "Reflection of feelings, then a question.", "I would ask a question.", "Hmm.",  # three deliberators
    "Do you want to talk about it?", "That sounds so painful.",  # one draft per kept strategy
    "2", "Reply 2, clearly.", "the first one",  # three voters (the last gives no number)
]  # fmt: skip


def test_multiagent_esc_deliberates_votes_and_reflects():
    inner = Scripted([*ESC_SCRIPT, "That sounds so painful. I am here."])
    esc = MultiAgentESC(inner, strategies=2, agents=3, analysis_tokens=16)
    persona = [{"role": "system", "content": "You are The Anchor."}, {"role": "user", "content": "My dog died."}]
    out = esc.generate([persona], SamplingParams(max_new_tokens=40, temperature=0.7), [5])
    assert [g.text for g in out] == ["That sounds so painful. I am here."]  # the reflection on the winner

    analyses, deliberation, drafts, votes, reflection = (
        inner.calls[0:3],
        inner.calls[3],
        inner.calls[4],
        inner.calls[5],
        inner.calls[6],
    )
    assert all(c[1].max_new_tokens == 16 and "My dog died." in c[0][0][-1]["content"] for c in analyses)
    assert len(deliberation[0]) == 3 and len(set(deliberation[2])) == 3  # three deliberators, own seeds
    assert "Cause: Their dog died." in deliberation[0][0][-1]["content"]
    # Question named twice, Reflection once: both kept, most named first; the persona writes each
    # the strategy goes into the persona's system message; the person's words stay the last turn
    assert all(
        m[0]["content"].startswith("You are The Anchor.\n") and m[-1]["content"] == "My dog died." for m in drafts[0]
    )
    assert drafts[0][0][0]["content"].endswith("strategy: Question.")
    assert drafts[0][1][0]["content"].endswith("strategy: Reflection of Feelings.")
    assert drafts[1].max_new_tokens == 40
    assert "1. Do you want to talk about it?\n2. That sounds so painful." in votes[0][0][-1]["content"]
    assert "Your draft reply: That sounds so painful." in reflection[0][0][0]["content"]  # two votes for reply 2
    assert esc.format_rates() == {"strategy_format_rate": round(2 / 3, 4), "vote_format_rate": round(2 / 3, 4)}


def test_multiagent_esc_keeps_the_winner_when_reflection_is_empty_and_fills_missing_strategies():
    script = [*ESC_SCRIPT[:3], "no idea", "none", "?", "Draft one.", "Draft two.", "x", "y", "z", "  "]
    esc = MultiAgentESC(Scripted(script), strategies=2, agents=3, analysis_tokens=16)
    out = esc.generate([[{"role": "user", "content": "hi"}]], SamplingParams(), [1])
    # nobody named a strategy or voted: the list's first two strategies, and the first draft
    assert out[0].text == "Draft one."
    assert esc.format_rates() == {"strategy_format_rate": 0.0, "vote_format_rate": 0.0}
    with pytest.raises(ValueError, match="strategies must be 1..8"):
        MultiAgentESC(Scripted([]), strategies=9, agents=1, analysis_tokens=8)


def test_mascot_vs_best_baseline_is_the_same_whatever_the_row_order():
    import polars as pl

    from mascot.eval.evaluate import versus_best_baseline

    rows = [{"system": s, "context_id": f"c{k}", "dataset": "qmsum", "overall": float(v)}
            for s, vals in (("mascot", [60, 70, 65, 80, 55]), ("sft", [50, 72, 60, 70, 58]), ("few_shot", [40] * 5))
            for k, v in enumerate(vals)]  # fmt: skip
    table = pl.DataFrame(rows)
    first = versus_best_baseline(table, "agent", 500, 0.9, seed=1)
    assert first["qmsum.mascot_vs_best.agent.baseline"] == "sft" and first["qmsum.mascot_vs_best.agent.gain"] == 4.0
    for seed in range(5):  # the same interval for every order of the same rows
        assert (
            versus_best_baseline(table.sample(fraction=1.0, shuffle=True, seed=seed), "agent", 500, 0.9, seed=1)
            == first
        )
