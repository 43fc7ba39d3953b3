"""Stage 2 cost on the offline default: seconds per rollout block, seconds per director GRPO step,
peak memory. Needs the outputs of `dvc repro group_rm` (models/base, sft, agents, director_sft,
group_rm, data/rollouts.parquet); trains into a temporary folder, so models/director is left alone.

    python benchmarks/director.py [--blocks 16] [--steps 4] [--set grpo_director.beta=0]
    accelerate launch --config_file configs/accelerate/cpu_ddp.yaml benchmarks/director.py --blocks 0

Each process prints one JSON line; the first GRPO step (warm-up) is left out of the mean.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from bench_record import record, variant  # benchmarks/ is on sys.path when this file runs
from grpo_step import StepClock

from mascot.agents import Agents
from mascot.chat.engine import group_names
from mascot.chat.state import ConversationState
from mascot.config import load_config, parse_overrides
from mascot.data.sampling import sample_contexts
from mascot.grpo_director import train_director
from mascot.personas import load_cards
from mascot.schemas import CONTEXTS, ROLLOUTS, read_table
from mascot.trained_group import WARM, group_engine

NEEDS = (
    "models/base",
    "models/sft",
    "models/agents",
    "models/director_sft",
    "models/group_rm",
    "data/rollouts.parquet",
    "data/contexts.parquet",
)


def inputs_missing() -> bool:
    """Says which Stage 2 inputs are missing and how to make them; True when any is."""
    missing = [p for p in NEEDS if not Path(p).exists()]
    if missing:
        print(f"{', '.join(missing)} missing: run `dvc repro group_rm` first", file=sys.stderr)
    return bool(missing)


def time_blocks(cfg, cards, contexts: pl.DataFrame, n: int) -> dict:
    """Whole group replies as the rollouts stage makes them (chunks of rollouts.chunk_size)."""
    engine = group_engine("models/base", "models/sft", Agents.load("models/agents"), cards, cfg,
                          {WARM: "models/director_sft"})  # fmt: skip
    groups = cfg.groups()
    picked = sample_contexts(contexts.filter(pl.col("split") == "train"), None, 0).head(n)
    chunk = cfg.rollouts.chunk_size
    start = time.perf_counter()
    turns = 0
    for at in range(0, picked.height, chunk):
        rows = picked.slice(at, chunk).iter_rows(named=True)
        states = [
            ConversationState.start(c, groups[c["dataset"]], group_names(cards, groups[c["dataset"]])) for c in rows
        ]
        engine.reply(states, keys=[f"bench|{at + i}" for i in range(len(states))])
        turns += sum(s.turns_this_reply() for s in states)
    seconds = time.perf_counter() - start
    return {"blocks": picked.height, "agent_turns": turns, "seconds_per_block": round(seconds / max(1, picked.height), 2),
            "chunk_size": chunk, "max_turns": cfg.conversation.max_turns}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=16, help="rollout blocks to time (0 skips)")
    parser.add_argument("--steps", type=int, default=4, help="director GRPO steps to time (0 skips)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a param (YAML value)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if inputs_missing():
        return 2
    cfg = load_config(args.params, {"grpo_director.max_steps": max(1, args.steps), **parse_overrides(args.set)})
    cards = load_cards(cfg.personas.dir)
    contexts = read_table("data/contexts.parquet", CONTEXTS)
    out: dict = {"rank": int(os.environ.get("RANK", 0)), "processes": int(os.environ.get("WORLD_SIZE", 1))}
    if args.blocks:
        out |= time_blocks(cfg, cards, contexts, args.blocks)
    if args.steps:
        clock = StepClock()
        g = cfg.grpo_director
        with tempfile.TemporaryDirectory() as tmp:
            train_director(
                "models/base", "models/sft", Agents.load("models/agents"), "models/director_sft", "models/group_rm",
                read_table("data/rollouts.parquet", ROLLOUTS), contexts, cards, cfg, Path(tmp) / "d", Path(tmp) / "p",
                callbacks=[clock],
            )  # fmt: skip
        steady = clock.times[1:] or clock.times
        out |= {"grpo_steps": len(clock.times), "completions_per_step": g.batch_size * g.gradient_accumulation_steps,
                "group_size": g.num_generations, "beta": g.beta, "first_step_s": round(clock.times[0], 2),
                "seconds_per_grpo_step": round(statistics.fmean(steady), 2)}  # fmt: skip
    out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    print(json.dumps(out))
    if out["rank"] == 0:
        record(variant("director", args.set, "grpo_director"), {k: v for k, v in out.items() if k != "rank"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
