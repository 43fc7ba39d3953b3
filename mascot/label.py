"""Stage 1, steps 2-3: judge every candidate on every criterion, then build preference pairs.

Every candidate is one judge item: its persona's reply to its context, on its dataset's rubric.
The judging, its cache and the pairs are :mod:`mascot.judge.labeling`'s, shared with the other
stages that judge.
"""

from __future__ import annotations

import polars as pl

from mascot.judge import JudgeItem
from mascot.judge.rubric import Rubric
from mascot.personas import Persona
from mascot.registry import Registry


def build_items(
    candidates: pl.DataFrame, contexts: pl.DataFrame, cards: Registry[Persona], rubrics: dict[str, Rubric]
) -> list[JudgeItem]:
    rows = candidates.join(contexts, on="context_id", how="left")
    missing = rows.filter(pl.col("dataset").is_null())["candidate_id"].to_list()
    if missing:
        raise ValueError(
            f"label: {len(missing)} candidate(s) refer to contexts not in the contexts table, e.g. {missing[:3]}"
        )
    items = []
    for r in rows.iter_rows(named=True):
        if r["dataset"] not in rubrics:
            raise ValueError(f"label.rubrics: no rubric for dataset '{r['dataset']}' (candidate {r['candidate_id']})")
        items.append(
            JudgeItem(
                r["candidate_id"],
                r,
                cards.get(r["persona"], where="candidates.persona"),
                r["response"],
                rubrics[r["dataset"]],
            )
        )
    return items
