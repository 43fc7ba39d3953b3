"""Persona reward-model training time and peak memory on the offline default.

Trains exactly as the persona_rm stage does (models/base, params.yaml's persona_rm section) into a
temporary folder, so models/persona_rm is left alone. Pairs come from data/preference_pairs.parquet
when the label stage has written it. Otherwise they are synthesised from data/candidates.parquet:
within each (context, persona), every two candidates i < j form a pair with the lower sample_idx as
"chosen" (judged 4.0 vs 3.0). Those labels mean nothing — the figures measure cost only, and the
accuracies printed alongside are then noise. Run `dvc repro candidates` (or `dvc repro persona_rm`'s
upstream) first.

    python benchmarks/persona_rm_train.py [--max-steps N] [--batch-size B] [--gradient-accumulation-steps G]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from mascot.config import load_config
from mascot.persona_rm import persona_subjects
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.reward_model import train_reward_model
from mascot.schemas import CANDIDATES, CONTEXTS, preference_pairs_schema, read_table, validate


def synthetic_pairs(candidates: pl.DataFrame) -> pl.DataFrame:
    """Every i < j inside a (context, persona), the lower sample_idx chosen; cost figures only."""
    left = candidates.select("context_id", "persona", "sample_idx", "candidate_id", "response")
    pairs = (
        left.join(left, on=["context_id", "persona"], suffix="_r")
        .filter((pl.col("sample_idx") < pl.col("sample_idx_r")) & (pl.col("response") != pl.col("response_r")))
        .select(
            pl.concat_str([pl.col("candidate_id"), pl.col("candidate_id_r")], separator=">").alias("pair_id"),
            "context_id",
            "persona",
            pl.col("candidate_id").alias("chosen_id"),
            pl.col("candidate_id_r").alias("rejected_id"),
            pl.col("response").alias("chosen"),
            pl.col("response_r").alias("rejected"),
            score_chosen=pl.lit(4.0),
            score_rejected=pl.lit(3.0),
            margin=pl.lit(1.0),
        )
        .sort("pair_id")
    )
    return validate(pairs, preference_pairs_schema(0.0), "synthetic pairs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default="data/preference_pairs.parquet")
    ap.add_argument("--candidates", default="data/candidates.parquet")
    ap.add_argument("--contexts", default="data/contexts.parquet")
    ap.add_argument("--base", default="models/base")
    ap.add_argument("--max-steps", type=int, default=None, help="default: persona_rm.max_steps from params.yaml")
    ap.add_argument("--batch-size", type=int, default=None, help="default: persona_rm.batch_size")
    ap.add_argument("--gradient-accumulation-steps", type=int, default=None, help="default: from params.yaml")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    cfg = load_config("params.yaml")
    overrides = {
        "max_steps": args.max_steps,
        "batch_size": args.batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
    }
    rm_cfg = cfg.persona_rm.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if Path(args.pairs).exists():
        pairs, source = read_table(args.pairs, preference_pairs_schema(0.0)), args.pairs
    elif Path(args.candidates).exists():
        pairs, source = synthetic_pairs(read_table(args.candidates, CANDIDATES)), f"synthetic from {args.candidates}"
    else:
        sys.exit(f"neither {args.pairs} nor {args.candidates} exists: run `dvc repro candidates` first")
    contexts = read_table(args.contexts, CONTEXTS)

    with tempfile.TemporaryDirectory(prefix="mascot-rm-bench-") as scratch:
        t = time.perf_counter()
        metrics = train_reward_model(
            rm_cfg.base or args.base, pairs, contexts, persona_subjects(load_cards(cfg.personas.dir)), Prompts(cfg.prompts_dir),
            rm_cfg, Path(scratch) / "rm", Path(scratch) / "plots",
        )  # fmt: skip
        wall = time.perf_counter() - t

    import torch

    print(json.dumps({
        "pairs_source": source,
        "pairs": pairs.height,
        "train_pairs": metrics["train_pairs"],
        "eval_pairs": metrics["eval_pairs"],
        "steps": metrics["steps"],
        "batch_size": rm_cfg.batch_size,
        "gradient_accumulation_steps": rm_cfg.gradient_accumulation_steps,
        "max_length": rm_cfg.max_length,
        "torch_threads": torch.get_num_threads(),
        # encode + score before + train + merge + save + score after: the whole stage minus I/O of tables
        "wall_s": round(wall, 1),
        "wall_s_per_step": round(wall / max(1, metrics["steps"]), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "trainable_pct": metrics["trainable_pct"],
        "eval_accuracy": metrics["eval_accuracy"],
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
