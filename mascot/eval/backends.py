"""Prompting baselines as wrappers around a generation backend, so the conversation engine runs
them unchanged.

* :class:`HiddenReasoning` (Zero-Shot CoT, Few-Shot + CoT): the agent is asked to reason first
  inside ``<think>…</think>``; only what follows the reasoning reaches the conversation. A reply
  that never closes its reasoning is shown without the tag and counted (``tally["misses"]``), so the
  rate at which a model follows the format is measured rather than hidden.
* :class:`SelfConsistency` (Wang et al., 2023, for free text): n samples per turn with distinct
  seeds; the one most similar on average to the others (sentence-embedding cosine, the medoid) is
  kept: the answer the samples agree on.
* :class:`MultiAgentESC` (EMNLP 2025, training-free): analysis agents, strategy deliberation, one
  response per strategy, a vote and a self-reflection, for every agent turn.

Each wraps every call of the backend; the systems that use them have no director. Where a wrapper
asks the model for a format (a closed reasoning, a strategy name, a vote), it counts hits and misses
in ``tally`` and ``format_rates`` says how often it got one, so a model that cannot follow the
method is visible in the metrics. The evaluation stores each chunk's tally with its replies, so a
resumed run reports the same rates as an uninterrupted one.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import numpy as np

from mascot.llm import Backend, Generation, Message, SamplingParams
from mascot.seeds import derive_seed

REASONING_INSTRUCTION = (
    "Before your message, think briefly about what they feel and need, inside <think> and </think>. "
    "After </think>, write only your message."
)
_THINK_TAG = re.compile(r"</?think>", re.I)


def visible_reply(text: str) -> tuple[str, bool]:
    """(what the person sees, whether the reasoning was closed as asked)."""
    at = text.lower().rfind("</think>")
    if at >= 0:
        return text[at + len("</think>") :].strip(), True
    return _THINK_TAG.sub("", text).strip(), False


class HiddenReasoning:
    name = "hidden_reasoning"

    def __init__(self, inner: Backend, extra_tokens: int):
        self.inner, self.extra_tokens = inner, extra_tokens
        self.model_name = inner.model_name
        self.tally: Counter[str] = Counter()  # replies, misses

    def count_tokens(self, messages: list[Message]) -> int:
        return self.inner.count_tokens(self.ask(messages))

    @staticmethod
    def ask(messages: list[Message]) -> list[Message]:
        return with_system_note(messages, REASONING_INSTRUCTION)

    def generate(self, prompts, params: SamplingParams, seeds, adapter=None) -> list[Generation]:
        longer = replace(params, max_new_tokens=params.max_new_tokens + self.extra_tokens)
        out = []
        for gen in self.inner.generate([self.ask(m) for m in prompts], longer, seeds, adapter):
            text, closed = visible_reply(gen.text)
            self.tally["replies"] += 1
            self.tally["misses"] += not closed
            out.append(replace(gen, text=text))
        return out

    def format_rates(self) -> dict[str, float]:
        t = self.tally
        return {"reasoning_format_rate": _rate(t["replies"] - t["misses"], t["replies"])}


def with_system_note(messages: list[Message], note: str) -> list[Message]:
    """``messages`` with ``note`` at the end of the system message: a baseline's extra instruction
    goes where the companion's own instructions are, and the chat turns stay the conversation's."""
    first, *rest = messages
    if first["role"] != "system":
        return [{"role": "system", "content": note}, *messages]
    return [{**first, "content": f"{first['content']}\n{note}"}, *rest]


def transcript(messages: list[Message]) -> str:
    """The chat turns of a companion's prompt as text for an analyst: who is who by role."""
    label = {"user": "Person", "assistant": "Companion"}
    return "\n".join(f"{label[m['role']]}: {m['content']}" for m in messages if m["role"] in label)


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else float("nan")


class SelfConsistency:
    name = "self_consistency"

    def format_rates(self) -> dict[str, float]:
        return {}

    def __init__(self, inner: Backend, samples: int, embedder):
        if samples < 2:
            raise ValueError(f"self-consistency needs at least 2 samples per turn, got {samples}")
        self.inner, self.samples, self.embedder = inner, samples, embedder
        self.model_name = inner.model_name

    def count_tokens(self, messages: list[Message]) -> int:
        return self.inner.count_tokens(messages)

    def generate(self, prompts, params: SamplingParams, seeds, adapter=None) -> list[Generation]:
        n = self.samples
        many = self.inner.generate(
            [m for m in prompts for _ in range(n)], params, [derive_seed(s, "sc", k) for s in seeds for k in range(n)], adapter
        )  # fmt: skip
        return [self.medoid(many[i * n : (i + 1) * n]) for i in range(len(prompts))]

    def medoid(self, gens: list[Generation]) -> Generation:
        vectors = self.embedder.encode([g.text or " " for g in gens], normalize_embeddings=True, convert_to_numpy=True)
        sims = vectors @ vectors.T
        agreement = (sims.sum(axis=1) - np.diag(sims)) / (len(gens) - 1)
        return gens[int(np.argmax(agreement))]  # ties: the first sample


# ESConv's support strategies (Liu et al., 2021), which MultiAgentESC deliberates over, each with
# the word stems that name it in a deliberator's free text.
ESC_STRATEGIES = {
    "Question": r"question|ask",
    "Restatement or Paraphrasing": r"restat|paraphras",
    "Reflection of Feelings": r"reflect",
    "Self-disclosure": r"self-disclos|disclos",
    "Affirmation and Reassurance": r"affirm|reassur",
    "Providing Suggestions": r"suggest",
    "Information": r"inform",
    "Others": r"others\b",
}
ANALYST_SYSTEM = "You analyse conversations carefully and answer briefly."
ANALYSES = {
    "emotion": "In one sentence: what does the person who wrote last feel, and how strongly?",
    "cause": "In one sentence: what caused that feeling?",
    "intention": "In one sentence: what do they want from this conversation now?",
}


class MultiAgentESC:
    """MultiAgentESC (Xu et al., EMNLP 2025) on every agent turn, with the persona's own prompt:

    1. three analysis agents state the emotion, its cause and the intention of the last message;
    2. ``agents`` deliberators each name strategies from :data:`ESC_STRATEGIES` given the analysis;
       the ``strategies`` named most often are kept (ties: the list's order); a deliberator that
       names none is counted, and the list's first strategies fill the gap;
    3. the persona writes one response per kept strategy;
    4. ``agents`` voters read the numbered responses and name the best; the majority wins (ties: the
       more deliberated strategy); a vote without a valid number is counted and ignored;
    5. self-reflection: the persona revises the winner in the light of the analysis (an empty
       revision keeps the winner).

    The paper's multi-round debate among disagreeing voters is one round of votes here. Every call
    is batched across the turns being generated and seeded from the turn's seed.
    """

    name = "multiagent_esc"

    def __init__(self, inner: Backend, strategies: int, agents: int, analysis_tokens: int):
        if not 1 <= strategies <= len(ESC_STRATEGIES):
            raise ValueError(f"MultiAgentESC: strategies must be 1..{len(ESC_STRATEGIES)}, got {strategies}")
        if agents < 1:
            raise ValueError(f"MultiAgentESC: at least one deliberating and voting agent, got {agents}")
        self.inner, self.strategies, self.agents, self.analysis_tokens = inner, strategies, agents, analysis_tokens
        self.model_name = inner.model_name
        self.tally: Counter[str] = Counter()  # proposals, proposal_misses, votes, vote_misses

    def count_tokens(self, messages: list[Message]) -> int:
        return self.inner.count_tokens(messages)

    def format_rates(self) -> dict[str, float]:
        t = self.tally
        return {
            "strategy_format_rate": _rate(t["proposals"] - t["proposal_misses"], t["proposals"]),
            "vote_format_rate": _rate(t["votes"] - t["vote_misses"], t["votes"]),
        }

    def _ask(self, prompts, params, seeds, step, adapter, copies: int = 1) -> list[list[str]]:
        """Each prompt ``copies`` times with its own seeds → per prompt, its texts."""
        gens = self.inner.generate(
            [p for p in prompts for _ in range(copies)], params,
            [derive_seed(s, "esc", step, k) for s in seeds for k in range(copies)], adapter,
        )  # fmt: skip
        return [[g.text.strip() for g in gens[i * copies : (i + 1) * copies]] for i in range(len(prompts))]

    @staticmethod
    def _analyst(messages: list[Message], question: str) -> list[Message]:
        return [
            {"role": "system", "content": ANALYST_SYSTEM},
            {"role": "user", "content": f"{transcript(messages)}\n\n{question}"},
        ]

    @staticmethod
    def _persona(messages: list[Message], extra: str) -> list[Message]:
        return with_system_note(messages, extra)

    def generate(self, prompts, params: SamplingParams, seeds, adapter=None) -> list[Generation]:
        short = replace(params, max_new_tokens=self.analysis_tokens)
        aspects = {
            aspect: [t[0] for t in self._ask([self._analyst(m, q) for m in prompts], short, seeds, aspect, adapter)]
            for aspect, q in ANALYSES.items()
        }
        analyses = [
            "\n".join(f"{aspect.capitalize()}: {aspects[aspect][i]}" for aspect in ANALYSES) for i in range(len(prompts))
        ]  # fmt: skip
        menu = "; ".join(ESC_STRATEGIES)
        deliberations = self._ask(
            [self._analyst(m, f"{a}\n\nWhich support strategies fit best now? Choose from: {menu}.")
             for m, a in zip(prompts, analyses)], short, seeds, "deliberate", adapter, self.agents,
        )  # fmt: skip
        chosen = [self.choose_strategies(d) for d in deliberations]
        drafts = self.inner.generate(
            [self._persona(m, f"{a}\nAnswer using this strategy: {st}.")
             for m, a, sts in zip(prompts, analyses, chosen) for st in sts], params,
            [derive_seed(s, "esc", "respond", k) for s in seeds for k in range(self.strategies)], adapter,
        )  # fmt: skip
        per_prompt = [drafts[i * self.strategies : (i + 1) * self.strategies] for i in range(len(prompts))]
        ballots = self._ask(
            [self._analyst(m, f"{a}\n\nPossible replies:\n" + "\n".join(f"{k + 1}. {g.text.strip()}" for k, g in enumerate(ds))
                           + "\n\nWhich reply helps them most? Answer with its number only.")
             for m, a, ds in zip(prompts, analyses, per_prompt)], replace(params, max_new_tokens=8), seeds, "vote",
            adapter, self.agents,
        )  # fmt: skip
        winners = [ds[self.count_votes(b, len(ds))] for ds, b in zip(per_prompt, ballots)]
        revised = self.inner.generate(
            [self._persona(m, f"{a}\nYour draft reply: {w.text.strip()}\nImprove the draft if it misses what they "
                              "feel or want. Write only the final reply.")
             for m, a, w in zip(prompts, analyses, winners)], params, [derive_seed(s, "esc", "reflect") for s in seeds],
            adapter,
        )  # fmt: skip
        return [r if r.text.strip() else w for r, w in zip(revised, winners)]

    def choose_strategies(self, proposals: list[str]) -> list[str]:
        """The ``strategies`` most named across the deliberators' texts (each names a strategy at
        most once; ties and gaps: the list's order)."""
        named: Counter[str] = Counter()
        for text in proposals:
            found = {st for st in ESC_STRATEGIES if _mentions(text, st)}
            self.tally["proposals"] += 1
            self.tally["proposal_misses"] += not found
            named.update(found)
        order = list(ESC_STRATEGIES)
        ranked = sorted(order, key=lambda st: (-named[st], order.index(st)))
        return ranked[: self.strategies]

    def count_votes(self, ballots: list[str], options: int) -> int:
        """Index of the response most voted for (ties: the lower index, the more deliberated)."""
        votes: Counter[int] = Counter()
        for text in ballots:
            self.tally["votes"] += 1
            m = re.search(r"\d+", text)
            if m and 1 <= int(m.group()) <= options:
                votes[int(m.group()) - 1] += 1
            else:
                self.tally["vote_misses"] += 1
        return min(range(options), key=lambda k: (-votes[k], k))


def _mentions(text: str, strategy: str) -> bool:
    return re.search(rf"\b(?:{ESC_STRATEGIES[strategy]})", text.lower()) is not None
