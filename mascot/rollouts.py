"""Stage 2, step 1: N-turn group blocks from the director and the persona agents.

For every sampled training context, ``samples`` independent group replies are generated from the
same starting state (the context's history), each up to ``conversation.max_turns`` agent turns, by
:func:`mascot.blocks.generate_rollouts` (resumable, one row per directive); here, what the stage
reports about them.
"""

from __future__ import annotations

import polars as pl

from mascot.blocks import redrafted_rate
from mascot.chat.directive import END


def rollout_metrics(table: pl.DataFrame) -> dict:
    blocks = table.group_by("block_id").agg(
        pl.col("speaker").filter(pl.col("speaker") != END).len().alias("turns"),
        (~pl.col("directive_valid")).sum().alias("invalid"),
        (pl.col("speaker") == END).any().alias("ended"),
    )
    agent = table.filter(pl.col("speaker") != END)
    return {
        "blocks": blocks.height,
        "directives": table.height,
        "invalid_directive_rate": round((~table["directive_valid"]).mean(), 4),
        "refused_sample_rate": refused_sample_rate(table),
        "ended_by_director_rate": round(blocks["ended"].mean(), 4),
        "mean_turns_per_block": round(blocks["turns"].mean(), 3),
        "empty_turn_rate": round((agent["text"].str.strip_chars() == "").mean(), 4) if agent.height else None,
        "redrafted_rate": redrafted_rate(agent),
    }


def refused_sample_rate(table: pl.DataFrame) -> float | None:
    """The share of the director's samples the engine refused (each retry is a sample; a directive
    whose every sample was refused went to the fallback); None without a director."""
    asked = table["directive_attempts"].sum()
    accepted = table.filter(pl.col("directive_attempts") > 0)["directive_valid"].sum()
    return round((asked - accepted) / asked, 4) if asked else None
