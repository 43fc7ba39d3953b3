"""A group block as the judge reads it (Stage 2, step 2, and the evaluation's judging of whole
replies): the transcript of its agent turns under the companions' display names, judged as the
group's reply to one context with the group's personas described.

The judging machinery, cache and resume are the label stage's (:mod:`mascot.judge.labeling`); block
pairs are validated by the same schema as persona pairs, with ``persona`` set to ``GROUP`` since a
block belongs to the whole group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from mascot.blocks import GROUP, group_cards
from mascot.chat.directive import END
from mascot.judge import JudgeItem
from mascot.judge.rubric import Rubric
from mascot.personas import Persona
from mascot.registry import Registry


def block_transcripts(rollouts: pl.DataFrame, cards: Registry[Persona]) -> pl.DataFrame:
    """One row per block: candidate_id (the block id), context_id, persona = GROUP, response (the
    transcript, one "Display Name: text" line per agent turn) and the turns as structs."""
    turns = rollouts.filter(pl.col("speaker") != END).sort("block_id", "turn")
    display = {name: cards.get(name, where="rollouts.speaker").display_name for name in turns["speaker"].unique()}
    turns = turns.with_columns(display=pl.col("speaker").replace_strict(display, return_dtype=pl.Utf8))
    return (
        turns.group_by("block_id", "context_id", maintain_order=True)
        .agg(
            response=pl.concat_str([pl.col("display"), pl.lit(": "), pl.col("text")]).str.join("\n"),
            turns=pl.struct(speaker=pl.col("display"), text=pl.col("text")),
        )
        .rename({"block_id": "candidate_id"})
        .with_columns(persona=pl.lit(GROUP))
        .sort("candidate_id")
    )


def block_items(
    blocks: pl.DataFrame,
    contexts: pl.DataFrame,
    cards: Registry[Persona],
    groups: Mapping[str, Sequence[str]],
    rubric: Rubric,
) -> list[JudgeItem]:
    rows = blocks.join(contexts, on="context_id", how="left")
    missing = rows.filter(pl.col("dataset").is_null())["candidate_id"].to_list()
    if missing:
        raise ValueError(
            f"group_label: {len(missing)} block(s) refer to contexts not in the contexts table, e.g. {missing[:3]}"
        )
    by_dataset = group_cards(cards, groups)
    items = []
    for r in rows.iter_rows(named=True):
        if r["dataset"] not in by_dataset:
            raise ValueError(
                f"group_label: block {r['candidate_id']} is from dataset '{r['dataset']}', which has no group"
            )
        items.append(
            JudgeItem(r["candidate_id"], r, None, r["response"], rubric, turns=tuple(r["turns"]),
                      personas=by_dataset[r["dataset"]])
        )  # fmt: skip
    return items
