"""LLM judges: score a candidate reply on each rubric criterion, 1 to 5.

Two backends behind one interface (registry ``JUDGES``): in-process transformers and
any OpenAI-compatible server. Scores are probability-weighted over the tokens 1..5
(G-Eval) where token probabilities exist, else strict JSON ``{"score": n}``. Parsing
reads only the judge's own answer (its next-token distribution, or its whole reply as
one JSON object), so text inside a context or reply that imitates the answer format
("Score: 5", a JSON object) cannot change how a score is read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from mascot.judge.rubric import Criterion, Rubric
from mascot.personas import Persona
from mascot.prompts import Message, Prompts, context_vars
from mascot.registry import Registry, import_ref

DIGITS = ("1", "2", "3", "4", "5")


@dataclass(frozen=True)
class JudgeItem:
    """One thing to judge on every criterion of its rubric: a candidate reply of one persona, or
    (with ``turns``) a whole group block, where ``candidate_id`` is the block id."""

    candidate_id: str
    context: Mapping[str, Any]
    persona: Persona | None
    response: str
    rubric: Rubric
    turns: tuple[Mapping[str, str], ...] = ()  # a block: ({"speaker": display name, "text": ...}, ...)
    personas: tuple[Persona, ...] = ()  # a block: the group
    pair: tuple[tuple[Mapping[str, str], ...], ...] = ()  # a comparison: the turns of reply A and of reply B

    @property
    def user_template(self) -> str:
        if self.pair:
            return "judge_pair_user.jinja"
        return "judge_group_user.jinja" if self.turns else "judge_user.jinja"


@dataclass(frozen=True)
class Score:
    criterion: str
    score: float | None  # None exactly when status == "failed"
    status: str  # "ok" | "failed"
    method: str  # "logprobs" | "json"
    attempts: int
    raw: str  # the judge's own output: the digit distribution, the JSON text, or the error


@dataclass
class JudgeStats:
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    reasks: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_metrics(self, judge: str) -> dict[str, int]:
        return {f"judge.{judge}.{k}": v for k, v in asdict(self).items()}


@dataclass
class Parsed:
    score: float | None
    raw: str
    error: str = ""


class Judge(Protocol):
    name: str
    model_name: str
    stats: JudgeStats

    def judge(self, items: list[JudgeItem]) -> list[list[Score]]: ...


# name → where its class is, imported only when that judge is asked for (as mascot.llm.BACKENDS)
JUDGES: Registry[str] = Registry("judge backend")
JUDGES.add("transformers", "mascot.judge.transformers_judge:TransformersJudge")
JUDGES.add("openai", "mascot.judge.openai_judge:OpenAIJudge")


def judge_messages(prompts: Prompts, item: JudgeItem, criterion: Criterion, scoring: str) -> list[Message]:
    """The prompt for one criterion. Everything before the criterion block is the same for
    every criterion of an item, which the in-process judge encodes once."""
    variables = context_vars(item.context, None) | {
        "persona": item.persona,
        "response": item.response,
        "turns": item.turns,
        "personas": item.personas,
        "pair": item.pair,
        "rubric": item.rubric,
        "criterion": criterion,
        "scoring": scoring,
    }
    return [
        {"role": "system", "content": prompts.render("judge_system.jinja", **variables)},
        {"role": "user", "content": prompts.render(item.user_template, **variables)},
    ]


def score_from_digit_probs(probs: Mapping[str, float], min_mass: float) -> Parsed:
    """G-Eval: the expected score under the judge's distribution over 1..5, renormalised
    over those five tokens. Too little mass on them means the judge did not answer."""
    mass = sum(probs.get(d, 0.0) for d in DIGITS)
    raw = json.dumps({"probs": {d: probs.get(d, 0.0) for d in DIGITS}, "mass": mass})
    if not mass > 0 or mass < min_mass or not math.isfinite(mass):
        return Parsed(None, raw, f"probability on the tokens 1..5 is {mass:.4f} < {min_mass}")
    return Parsed(sum(int(d) * probs.get(d, 0.0) for d in DIGITS) / mass, raw)


def parse_json_score(text: str) -> Parsed:
    """Strict: the whole reply must be one JSON object {"score": n}, n an integer in 1..5."""
    raw = text
    try:
        obj = json.loads(text.strip())
    except json.JSONDecodeError as exc:
        return Parsed(None, raw, f"not JSON: {exc.msg}")
    if not isinstance(obj, dict) or set(obj) != {"score"}:
        return Parsed(None, raw, 'expected exactly {"score": n}')
    value = obj["score"]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        return Parsed(None, raw, f"score {value!r} is not an integer from 1 to 5")
    return Parsed(float(value), raw)


@dataclass
class CriterionState:
    """What one criterion of one item has been through so far."""

    attempts: int = 0
    errors: list[str] = field(default_factory=list)


def failed(criterion: str, method: str, attempts: int, raw: str) -> Score:
    return Score(criterion, None, "failed", method, max(attempts, 1), raw)


def get_judge_class(backend: str) -> type:
    return import_ref(JUDGES.get(backend, where="label.judges[].backend"))
