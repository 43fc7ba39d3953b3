"""Candidate generation throughput on the offline default: batched vs one at a time.

Uses models/base (run `dvc repro base_model` first), the real persona prompts built from the
bundled sample, and the default profile's sampling parameters. Prints tokens/s for both modes.

    python benchmarks/candidates_throughput.py [--prompts 32] [--single 8]
"""

from __future__ import annotations

import argparse
import json
import time

import polars as pl

from mascot.candidates import build_requests
from mascot.config import load_config
from mascot.data.ingest import ingest
from mascot.llm import SamplingParams
from mascot.llm.transformers_backend import TransformersBackend
from mascot.personas import load_cards
from mascot.prompts import Prompts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/base")
    ap.add_argument("--prompts", type=int, default=32, help="prompts generated in batches")
    ap.add_argument("--single", type=int, default=8, help="prompts generated one at a time")
    ap.add_argument("--batch-size", type=int, default=None, help="default: candidates.generation.batch_size")
    args = ap.parse_args()

    cfg = load_config("params.yaml")
    c = cfg.candidates
    batch_size = args.batch_size or c.generation.batch_size
    backend = TransformersBackend(args.model, batch_size=batch_size, device="cpu")
    contexts, _ = ingest(cfg.ingest)
    contexts = contexts.filter(pl.col("split") == "train")
    requests = build_requests(
        contexts, load_cards(cfg.personas.dir), cfg.personas, Prompts(cfg.prompts_dir), backend.count_tokens, c
    )[: args.prompts]
    # fixed length so both modes do the same work per sequence
    params = SamplingParams(temperature=c.temperature, top_p=c.top_p, max_new_tokens=c.max_new_tokens)
    prompts, seeds = [r.messages for r in requests], [r.seed for r in requests]
    backend.generate(prompts[:2], params, seeds[:2])  # warm-up

    t = time.perf_counter()
    batched = backend.generate(prompts, params, seeds)
    batched_s = time.perf_counter() - t
    t = time.perf_counter()
    single = [backend.generate([p], params, [s])[0] for p, s in zip(prompts[: args.single], seeds)]
    single_s = time.perf_counter() - t

    b_tps = sum(g.completion_tokens for g in batched) / batched_s
    s_tps = sum(g.completion_tokens for g in single) / single_s
    print(
        json.dumps(
            {
                "batch_size": batch_size,
                "max_new_tokens": c.max_new_tokens,
                "batched_prompts": len(batched),
                "batched_tokens_per_s": round(b_tps, 1),
                "single_prompts": len(single),
                "single_tokens_per_s": round(s_tps, 1),
                "speedup": round(b_tps / s_tps, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
