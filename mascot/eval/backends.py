"""Prompting baselines as wrappers around a generation backend, so the conversation engine runs
them unchanged.

* :class:`HiddenReasoning` (Zero-Shot CoT, Few-Shot + CoT): the agent is asked to reason first
  inside ``<think>…</think>``; only what follows the reasoning reaches the conversation. A reply
  that never closes its reasoning is shown without the tag and counted (``format_misses``), so the
  rate at which a model follows the format is measured rather than hidden.
* :class:`SelfConsistency` (Wang et al., 2023, for free text): n samples per turn with distinct
  seeds; the one most similar on average to the others (sentence-embedding cosine, the medoid) is
  kept: the answer the samples agree on.

Both wrap every call of the backend; the systems that use them have no director.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from mascot.candidates import derive_seed
from mascot.llm import Backend, Generation, Message, SamplingParams

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
        self.replies = self.format_misses = 0

    def count_tokens(self, messages: list[Message]) -> int:
        return self.inner.count_tokens(self.ask(messages))

    @staticmethod
    def ask(messages: list[Message]) -> list[Message]:
        *head, last = messages
        return [*head, {**last, "content": f"{last['content']}\n{REASONING_INSTRUCTION}"}]

    def generate(self, prompts, params: SamplingParams, seeds, adapter=None) -> list[Generation]:
        longer = replace(params, max_new_tokens=params.max_new_tokens + self.extra_tokens)
        out = []
        for gen in self.inner.generate([self.ask(m) for m in prompts], longer, seeds, adapter):
            text, closed = visible_reply(gen.text)
            self.replies += 1
            self.format_misses += not closed
            out.append(replace(gen, text=text))
        return out


class SelfConsistency:
    name = "self_consistency"

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
