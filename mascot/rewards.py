"""Rewards as TRL reward functions: the persona agents' composite reward (Stage 1, step 5).

GRPOTrainer calls each function with ``prompts``, ``completions``, ``completion_ids`` and every
other dataset column as keyword lists (here ``context_id`` and ``persona``), one entry per
completion, and weighs their outputs with ``GRPOConfig.reward_weights``. TRL logs each component
under ``rewards/<name>/mean|std``; the format reward also logs its per-rule pass rates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mascot.format_reward import FormatRules, FormatVerdict, ReplyCheck
from mascot.personas import Persona
from mascot.registry import Registry
from mascot.reward_model import RewardModel


def completion_text(completion: Any) -> str:
    """TRL passes a conversational completion as ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content", "") for m in completion if m.get("role") == "assistant")


def system_prompt(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(m["content"] for m in prompt if m.get("role") == "system")


class _Lookup:
    """Context rows and persona cards by the ids GRPO passes through the dataset columns."""

    def __init__(self, contexts: Mapping[str, Mapping], cards: Registry[Persona]):
        self.contexts, self.cards = contexts, cards

    def rows(self, context_ids: Sequence[str]) -> list[Mapping]:
        missing = [c for c in context_ids if c not in self.contexts]
        if missing:
            raise KeyError(f"reward: context_id '{missing[0]}' is not in the contexts table")
        return [self.contexts[c] for c in context_ids]

    def personas(self, names: Sequence[str]) -> list[Persona]:
        return [self.cards.get(n, where="reward: dataset column 'persona'") for n in names]


class PersonaRMReward(_Lookup):
    """r_φ(x, ρ, y) from the trained persona reward model, optionally standardized."""

    __name__ = "persona_rm"  # TRL names the logged component after it

    def __init__(
        self,
        rm: RewardModel,
        contexts: Mapping[str, Mapping],
        cards: Registry[Persona],
        standardize: bool = True,
        batch_size: int = 16,
    ):
        super().__init__(contexts, cards)
        self.rm, self.standardize, self.batch_size = rm, standardize, batch_size
        if standardize:
            rm.standardize([0.0])  # fail now, not at the first step, when the stats are missing

    def __call__(self, prompts, completions, context_id, persona, **_: Any) -> list[float]:
        texts = [completion_text(c) for c in completions]
        rewards = self.rm.score(self.rows(context_id), self.personas(persona), texts, self.batch_size)
        return self.rm.standardize(rewards) if self.standardize else rewards


class FormatReward(_Lookup):
    """The rule-based format reward in [0, 1] (see :mod:`mascot.format_reward`)."""

    __name__ = "format"

    def __init__(
        self,
        rules: FormatRules,
        contexts: Mapping[str, Mapping],
        cards: Registry[Persona],
        groups: Mapping[str, Sequence[str]],
        eos_token_ids: Sequence[int],
    ):
        """``groups`` maps a dataset to its personas (who else is in the chat)."""
        super().__init__(contexts, cards)
        self.check, self.eos = ReplyCheck(rules, cards, groups), set(eos_token_ids)

    def verdicts(
        self,
        texts: Sequence[str],
        n_tokens: Sequence[int],
        truncated: Sequence[bool],
        context_ids: Sequence[str],
        personas: Sequence[str],
        system_prompts: Sequence[str],
    ) -> list[FormatVerdict]:
        out = []
        for text, n, cut, row, name, system in zip(
            texts, n_tokens, truncated, self.rows(context_ids), personas, system_prompts, strict=True
        ):
            speakers = self.check.speakers(row["dataset"], name, row["history"])
            earlier = [t["text"] for t in row["history"] or []]
            out.append(self.check.rules.check(text, n, cut, speakers, system, earlier))
        return out

    def __call__(
        self,
        prompts,
        completions,
        completion_ids,
        context_id,
        persona,
        log_metric: Callable[[str, float], None] | None = None,
        log_extra: Callable[[str, list], None] | None = None,
        **_: Any,
    ) -> list[float]:
        # completion_ids end with the end-of-sequence token when the model stopped by itself
        stopped = [bool(ids) and ids[-1] in self.eos for ids in completion_ids]
        verdicts = self.verdicts(
            [completion_text(c) for c in completions],
            [len(ids) - s for ids, s in zip(completion_ids, stopped)],
            [not s for s in stopped],
            context_id,
            persona,
            [system_prompt(p) for p in prompts],
        )
        if log_metric is not None:
            log_metric("format/pass", sum(v.passed for v in verdicts) / len(verdicts))
            for rule in self.check.rules.weights:
                log_metric(f"format/{rule}", sum(v.reasons[rule] is None for v in verdicts) / len(verdicts))
        if log_extra is not None:
            log_extra("format_reasons", [v.explain() for v in verdicts])
        return [v.reward for v in verdicts]
