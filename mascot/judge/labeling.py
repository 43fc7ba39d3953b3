"""Judging many items with every configured judge, and what is built from the judgments: the
per-item aggregate, preference pairs with a clear gap and the judges' agreement. Shared by the
label and group_label stages, the evaluation and the MBTI study.

Judging goes through a persistent cache keyed by (judge, model, rubric version, scoring,
exact prompt), filled chunk by chunk, so a killed run resumes where it stopped and a
repeated run costs nothing. Chunks are cut from the full list before the cache is
consulted, so a resumed run sends exactly the batches an uninterrupted one would and the
tables come out equal. Only successful scores are cached: a failure is recorded in the
table and tried again on the next run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict

import polars as pl

from mascot.config import JudgeConfig, ModelConfig
from mascot.judge import Judge, JudgeItem, Score, judge_messages
from mascot.progress import Progress
from mascot.prompts import Prompts
from mascot.resume import RecordStore, stable_hash


def run_judge(
    judge: Judge,
    items: list[JudgeItem],
    prompts: Prompts,
    store: RecordStore,
    model_key: str,
    scoring: str,
    chunk_size: int,
    progress: Callable[..., None] = lambda d, t, fresh=True: None,
) -> list[list[Score]]:
    def key(item: JudgeItem, criterion) -> str:
        return stable_hash(
            judge.name,
            model_key,
            item.rubric.name,
            item.rubric.version,
            scoring,
            criterion.name,
            judge_messages(prompts, item, criterion, "logprobs"),
        )

    results: list[list[Score]] = []
    for start in range(0, len(items), chunk_size):
        chunk = items[start : start + chunk_size]
        keys = [[key(it, c) for c in it.rubric.criteria] for it in chunk]
        fresh = not all(k in store for ks in keys for k in ks)
        if not fresh:
            judge.stats.cache_hits += sum(len(ks) for ks in keys)
            scores = [[Score(**store.get(k)) for k in ks] for ks in keys]
        else:
            scores = judge.judge(chunk)
            store.put_many((k, asdict(s)) for ks, ss in zip(keys, scores) for k, s in zip(ks, ss) if s.status == "ok")
        results.extend(scores)
        progress(min(start + chunk_size, len(items)), len(items), fresh)
    return results


def judge_all(
    judges: Sequence[JudgeConfig],
    items: list[JudgeItem],
    prompts: Prompts,
    store: RecordStore,
    base: str,
    model: ModelConfig,
    what: str = "candidates",
) -> tuple[pl.DataFrame, dict]:
    """Every item through every configured judge: the judgments table and the judges' call metrics."""
    from pathlib import Path

    from mascot.judge import get_judge_class
    from mascot.resume import fingerprint_dir

    tables, metrics = [], {}
    for jc in judges:
        if jc.backend == "transformers":
            path = jc.model or base
            judge = get_judge_class("transformers")(
                jc, path, prompts, device=model.device, dtype=model.dtype,
                model_name=jc.model or f"{model.base} ({base})",
            )  # fmt: skip
            model_key = fingerprint_dir(path) if Path(path).is_dir() else path
        else:
            judge = get_judge_class("openai")(jc, prompts)
            model_key = judge.model_name
        chunk = jc.batch_size if jc.backend == "transformers" else 4 * jc.endpoint.max_concurrency
        scores = run_judge(
            judge, items, prompts, store, model_key, jc.scoring, chunk,
            progress=Progress(f"judge {jc.name}: {what}"),
        )  # fmt: skip
        tables.append(judgments_table(judge, items, scores))
        metrics |= judge.stats.as_metrics(jc.name)
    return pl.concat(tables), metrics


def score_metrics(judgments: pl.DataFrame, per_item: pl.DataFrame, pairs: pl.DataFrame, group: Sequence[str]) -> dict:
    """What every label stage reports: failures, mean scores per criterion, pairs and agreement."""
    ok = judgments["status"] == "ok"
    per_criterion = judgments.filter(ok).group_by("criterion").agg(pl.col("score").mean()).sort("criterion")
    return {
        "judgments": judgments.height,
        "judgments_failed": int((~ok).sum()),
        "candidates_scored": int(per_item["score"].is_not_null().sum()),
        "mean_score": round(float(judgments.filter(ok)["score"].mean() or 0), 4),
        **{f"mean_score.{c}": round(float(s), 4) for c, s in per_criterion.iter_rows()},
        "pairs": pairs.height,
        "pairs_mean_margin": round(float(pairs["margin"].mean() or 0), 4),
        "groups_with_pairs": pairs.select(*group).n_unique(),
        **agreement(judgments),
    }


def judgments_table(judge: Judge, items: list[JudgeItem], scores: list[list[Score]]) -> pl.DataFrame:
    rows = [
        {
            "candidate_id": it.candidate_id,
            "judge": judge.name,
            "model": judge.model_name,
            "rubric": it.rubric.name,
            "rubric_version": it.rubric.version,
            "criterion": s.criterion,
            "score": s.score,
            "status": s.status,
            "method": s.method,
            "attempts": s.attempts,
            "raw": s.raw,
        }
        for it, ss in zip(items, scores)
        for s in ss
    ]
    return pl.DataFrame(rows, schema_overrides={"score": pl.Float64, "attempts": pl.Int64})


def aggregate(judgments: pl.DataFrame) -> pl.DataFrame:
    """s(y): mean over criteria of the judges' mean per criterion. A candidate with a
    criterion that no judge scored gets no aggregate (it cannot be compared fairly)."""
    # sorted before summing: polars' parallel group-by may otherwise add in a different order
    # from run to run, and a resumed run must give bit-identical pairs
    per_criterion = judgments.group_by("candidate_id", "criterion").agg(pl.col("score").sort().mean())
    return (
        per_criterion.group_by("candidate_id")
        .agg(score=pl.when(pl.col("score").null_count() == 0).then(pl.col("score").sort().mean()), criteria=pl.len())
        .sort("candidate_id")
    )


def build_pairs(
    candidates: pl.DataFrame, scores: pl.DataFrame, delta: float, max_per_group: int | None
) -> pl.DataFrame:
    """Within each (context, persona): every two candidates whose aggregates differ by ≥ δ,
    the higher one chosen. Identical texts never pair (they carry no preference)."""
    scored = candidates.join(scores.filter(pl.col("score").is_not_null()), on="candidate_id")
    rows = []
    for (context_id, persona), group in scored.sort("candidate_id").group_by(
        "context_id", "persona", maintain_order=True
    ):
        pairs = []
        for a, b in itertools.combinations(group.iter_rows(named=True), 2):
            hi, lo = (a, b) if a["score"] >= b["score"] else (b, a)
            margin = hi["score"] - lo["score"]
            if margin >= delta and margin > 0 and hi["response"] != lo["response"]:
                pairs.append((margin, hi, lo))
        pairs.sort(key=lambda p: (-p[0], p[1]["candidate_id"], p[2]["candidate_id"]))
        for _margin, hi, lo in pairs[:max_per_group]:
            rows.append(
                {
                    "pair_id": f"{hi['candidate_id']}>{lo['candidate_id']}",
                    "context_id": context_id,
                    "persona": persona,
                    "chosen_id": hi["candidate_id"],
                    "rejected_id": lo["candidate_id"],
                    "chosen": hi["response"],
                    "rejected": lo["response"],
                    "score_chosen": hi["score"],
                    "score_rejected": lo["score"],
                    "margin": hi["score"] - lo["score"],
                }
            )
    schema = {
        "pair_id": pl.Utf8,
        "context_id": pl.Utf8,
        "persona": pl.Utf8,
        "chosen_id": pl.Utf8,
        "rejected_id": pl.Utf8,
        "chosen": pl.Utf8,
        "rejected": pl.Utf8,
        "score_chosen": pl.Float64,
        "score_rejected": pl.Float64,
        "margin": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def agreement(judgments: pl.DataFrame) -> dict[str, float]:
    """Per criterion, across judges: mean pairwise Spearman ρ and Krippendorff's α (interval)."""
    import krippendorff
    import numpy as np
    from scipy.stats import spearmanr

    judges = sorted(judgments["judge"].unique())
    if len(judges) < 2:
        return {}
    out = {}
    for criterion in sorted(judgments["criterion"].unique()):
        wide = (
            judgments.filter(pl.col("criterion") == criterion)
            .pivot(on="judge", index="candidate_id", values="score")
            .select(judges)
        )
        matrix = wide.to_numpy().T.astype(float)  # judges × candidates, NaN where a judge failed
        rhos = []
        for i, j in itertools.combinations(range(len(judges)), 2):
            ok = ~np.isnan(matrix[i]) & ~np.isnan(matrix[j])
            if ok.sum() > 2:
                rhos.append(spearmanr(matrix[i][ok], matrix[j][ok]).statistic)
        out[f"agreement.{criterion}.spearman"] = round(float(np.nanmean(rhos)), 4) if rhos else None
        try:
            alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
            out[f"agreement.{criterion}.krippendorff_alpha"] = round(float(alpha), 4)
        except ValueError:  # no variation at all: α is undefined
            out[f"agreement.{criterion}.krippendorff_alpha"] = None
    return out
