"""Judge scores as the evaluation reports them, and the agent turns judged: shared by the evaluate
stage, the MBTI study and the human evaluation.

Scores are on 0–100 ((s − 1) / 4 × 100 for a 1–5 judge score), as the paper reports them. An agent
turn is judged as its persona's reply to everything before it in its conversation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import polars as pl

from mascot.chat.state import USER
from mascot.judge import JudgeItem
from mascot.judge.rubric import Rubric
from mascot.personas import Persona
from mascot.registry import Registry


def to_100(score: pl.Expr) -> pl.Expr:
    return (score - 1) / 4 * 100


def criterion_scores(judgments: pl.DataFrame) -> pl.DataFrame:
    """One row per judged item (``candidate_id``), one 0–100 column per criterion: the mean of its
    ``ok`` judgments over judges."""
    ok = judgments.filter(pl.col("status") == "ok")
    per = ok.group_by("candidate_id", "criterion").agg(to_100(pl.col("score").mean()).alias("score"))
    return per.pivot(on="criterion", index="candidate_id", values="score")


def turn_items(turns: Iterable[Mapping], ctx: Mapping, history: list[dict], cards: Registry[Persona],
               rubrics: Mapping[str, Rubric], item_id: Callable[[Mapping], str], where: str) -> list[JudgeItem]:  # fmt: skip
    """Each agent turn, judged as its persona's reply to everything before it; a user's turn (``role``
    ``user``) only joins the history. ``history`` is what came before the first of ``turns``."""
    items = []
    for t in turns:
        if t.get("role") == USER:
            history.append({"speaker": USER, "text": t["text"]})
            continue
        card = cards.get(t["speaker"], where=where)
        items.append(
            JudgeItem(item_id(t), dict(ctx) | {"history": list(history)}, card, t["text"], rubrics[ctx["dataset"]])
        )
        history.append({"speaker": card.display_name, "text": t["text"]})
    return items
