"""Whom a director would name: for each companion, the director's mean probability of naming it
on the states where the speaker rule offers it. The states are the warm start's teacher states
(`mascot/director_sft.py`) on the candidates' contexts; each offered name is scored by the
director's own next-token probabilities after "Speaker:", normalised over the names on offer.

A director without favourites gives each companion about 1 / (companions on offer). Needs the
outputs of `dvc repro director_sft` (models/base, models/sft, models/director_sft,
data/candidates.parquet); `--adapter models/director` scores the GRPO director instead.

    python benchmarks/director_choice.py [--adapter models/director_sft] [--variants 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import polars as pl
import torch
from bench_record import record  # benchmarks/ is on sys.path when this file runs

from mascot.chat.engine import GroupEngine, engine_settings
from mascot.config import load_config
from mascot.director_sft import teacher_examples
from mascot.llm import get_backend
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.schemas import CANDIDATES, CONTEXTS, read_table

SPEAKER = "Speaker:"


def name_logprobs(model, tokenizer, prompt_ids: list[int], names: list[str]) -> dict[str, float]:
    """log P(" <name>\\n" | prompt ending in "Speaker:") for each name, the way the director would
    write it; the prompt is encoded once and each name continues a copy of its cache."""
    out = {}
    with torch.no_grad():
        prompt = model(torch.tensor([prompt_ids]), use_cache=True)
        first = prompt.logits[0, -1].log_softmax(-1)
        for name in names:
            ids = tokenizer(f" {name}\n", add_special_tokens=False)["input_ids"]
            rest = model(torch.tensor([ids[:-1]]), past_key_values=copy.deepcopy(prompt.past_key_values)).logits[0]
            rest = rest.log_softmax(-1)
            out[name] = first[ids[0]].item() + sum(rest[i, t].item() for i, t in enumerate(ids[1:]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", default="models/director_sft", help="the director's LoRA")
    parser.add_argument("--variants", type=int, default=2, help="teacher states per (context, earlier turns)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    needs = ("models/base", "models/sft", args.adapter, "data/candidates.parquet", "data/contexts.parquet")
    missing = [p for p in needs if not Path(p).exists()]
    if missing:
        print(f"{', '.join(missing)} missing: run `dvc repro director_sft` first", file=sys.stderr)
        return 1
    cfg = load_config(args.params)
    backend = get_backend("transformers")("models/base", merge="models/sft", dtype=cfg.model.dtype, device="cpu")
    backend.load_adapter("director", args.adapter)
    backend.model.set_adapter("director")
    engine = GroupEngine(
        backend, load_cards(cfg.personas.dir), Prompts(cfg.prompts_dir), engine_settings(cfg.conversation)
    )
    candidates = read_table("data/candidates.parquet", CANDIDATES)
    contexts = read_table("data/contexts.parquet", CONTEXTS).filter(
        pl.col("context_id").is_in(candidates["context_id"].unique().to_list())
    )
    examples = teacher_examples(contexts, candidates, engine, cfg.groups(), args.variants, 0.0, cfg.director_sft.seed)
    shares: dict[str, list[tuple[float, float]]] = defaultdict(list)  # name → (probability, 1 / names on offer)
    states = list({id(e["state"]): e for e in examples}.values())  # the teacher gives a state one example per name
    for example in states:
        offered = engine.eligible(example["state"])
        if len(offered) < 2:
            continue
        prompt_ids = backend.tokenizer(backend.render(example["prompt"]) + SPEAKER, add_special_tokens=False)
        logps = name_logprobs(backend.model, backend.tokenizer, prompt_ids["input_ids"], offered)
        total = sum(math.exp(v) for v in logps.values())
        for name, logp in logps.items():
            shares[name].append((math.exp(logp) / total, 1 / len(offered)))
    out = {}
    for name, pairs in sorted(shares.items()):
        out[f"{name}.p"] = round(sum(p for p, _ in pairs) / len(pairs), 3)
        out[f"{name}.uniform"] = round(sum(u for _, u in pairs) / len(pairs), 3)
    out["smallest_p"] = min(v for k, v in out.items() if k.endswith(".p"))
    print(json.dumps({"adapter": args.adapter, "states": len(states), **out}, indent=2))
    record(f"director_choice.{Path(args.adapter).name}", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
