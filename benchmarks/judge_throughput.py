"""In-process judge on the offline default: judged candidates per minute, and shared-prefix
scoring (one pass over the shared prompt, short per-criterion suffixes) against one full
prompt per criterion. Needs data/candidates.parquet and models/base (`dvc repro candidates`).

    python benchmarks/judge_throughput.py [--items 16]
"""

from __future__ import annotations

import argparse
import json
import time

import polars as pl
import torch

from mascot.config import load_config
from mascot.judge import JudgeItem
from mascot.judge.rubric import load_rubric
from mascot.judge.transformers_judge import TransformersJudge
from mascot.personas import load_cards
from mascot.prompts import Prompts


@torch.inference_mode()
def one_prompt_per_criterion(judge: TransformersJudge, items: list[JudgeItem]) -> list[list[float]]:
    scores = []
    for item in items:
        row = []
        for criterion in item.rubric.criteria:
            ids = judge.tokenizer(judge._text(item, criterion), return_tensors="pt", add_special_tokens=False)
            p = torch.softmax(judge.model(**ids).logits[0, -1].float(), -1)
            digit = {d: float(p[i].sum()) for d, i in judge.digit_ids.items()}
            row.append(sum(int(d) * v for d, v in digit.items()) / sum(digit.values()))
        scores.append(row)
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=16)
    args = ap.parse_args()
    cfg = load_config("params.yaml")
    jcfg = cfg.label.judges[0]
    prompts = Prompts(cfg.prompts_dir)
    cards = load_cards(cfg.personas.dir)
    rubrics = {ds: load_rubric(path) for ds, path in cfg.label.rubrics.items()}
    rows = pl.read_parquet("data/candidates.parquet").join(pl.read_parquet("data/contexts.parquet"), on="context_id")
    rows = rows.sample(n=min(args.items, rows.height), seed=0).to_dicts()
    items = [
        JudgeItem(r["candidate_id"], r, cards.get(r["persona"]), r["response"], rubrics[r["dataset"]]) for r in rows
    ]
    judge = TransformersJudge(jcfg.model_copy(update={"min_digit_mass": 0.0}), "models/base", prompts, device="cpu")
    judge.judge(items[:2])  # warm-up
    one_prompt_per_criterion(judge, items[:1])

    t = time.perf_counter()
    shared = judge.judge(items)
    shared_s = time.perf_counter() - t
    t = time.perf_counter()
    naive = one_prompt_per_criterion(judge, items)
    naive_s = time.perf_counter() - t
    diff = max(abs(a.score - b) for r, n in zip(shared, naive) for a, b in zip(r, n))
    mass = [json.loads(s.raw)["mass"] for r in shared for s in r]
    print(
        json.dumps(
            {
                "items": len(items),
                "criteria_per_item": len(items[0].rubric.criteria),
                "batch_size": jcfg.batch_size,
                "shared_prefix_s": round(shared_s, 2),
                "one_prompt_per_criterion_s": round(naive_s, 2),
                "speedup": round(naive_s / shared_s, 2),
                "judged_candidates_per_min": round(60 * len(items) / shared_s, 1),
                "max_abs_score_difference": round(diff, 6),
                "mean_digit_mass": round(sum(mass) / len(mass), 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
