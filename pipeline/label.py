"""Stage label: judge every candidate on its rubric → judgments; pairs with margin ≥ δ → preference_pairs."""

from pathlib import Path

import polars as pl

from mascot.judge import get_judge_class
from mascot.judge.rubric import load_rubric
from mascot.label import aggregate, agreement, build_items, build_pairs, judgments_table, run_judge
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.resume import RecordStore, fingerprint_dir
from mascot.schemas import CANDIDATES, CONTEXTS, JUDGMENTS, preference_pairs_schema, read_table, write_table
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    lc = cfg.label
    prompts = Prompts(cfg.prompts_dir)
    rubrics = {ds: load_rubric(path) for ds, path in lc.rubrics.items()}
    candidates = read_table(args.candidates, CANDIDATES)
    items = build_items(candidates, read_table(args.contexts, CONTEXTS), load_cards(cfg.personas.dir), rubrics)
    store = RecordStore(Path(args.cache))
    log.info("%d candidates × criteria to judge; %d judgments cached in %s", len(items), store.loaded, args.cache)
    tables, metrics = [], {}
    for jc in lc.judges:
        if jc.backend == "transformers":
            path = jc.model or args.base
            judge = get_judge_class("transformers")(jc, path, prompts, device=cfg.model.device, dtype=cfg.model.dtype,
                                                     model_name=jc.model or f"{cfg.model.base} (models/base)")
            model_key = fingerprint_dir(path) if Path(path).is_dir() else path
        else:
            judge = get_judge_class("openai")(jc, prompts)
            model_key = judge.model_name
        chunk = jc.batch_size if jc.backend == "transformers" else 4 * jc.endpoint.max_concurrency
        scores = run_judge(judge, items, prompts, store, model_key, jc.scoring, chunk,
                           progress=lambda d, t, n=jc.name: log.info("judge %s: %d/%d candidates", n, d, t))
        tables.append(judgments_table(judge, items, scores))
        metrics |= judge.stats.as_metrics(jc.name)
    judgments = write_table(pl.concat(tables), args.judgments, JUDGMENTS)
    per_candidate = aggregate(judgments)
    pairs = build_pairs(candidates, per_candidate, lc.delta, lc.max_pairs_per_group)
    write_table(pairs, args.pairs, preference_pairs_schema(lc.delta))
    if pairs.is_empty():
        log.warning("no preference pairs with margin ≥ %s: the reward model will have nothing to learn", lc.delta)
    ok = judgments["status"] == "ok"
    write_metrics(args.metrics, {
        **metrics,
        "judgments": judgments.height,
        "judgments_failed": int((~ok).sum()),
        "candidates_scored": int(per_candidate["score"].is_not_null().sum()),
        "mean_score": round(float(judgments.filter(ok)["score"].mean() or 0), 4),
        **{f"mean_score.{c}": round(float(s), 4) for c, s in
           judgments.filter(ok).group_by("criterion").agg(pl.col("score").mean()).sort("criterion").iter_rows()},
        "pairs": pairs.height,
        "pairs_mean_margin": round(float(pairs["margin"].mean() or 0), 4),
        "groups_with_pairs": pairs.select("context_id", "persona").n_unique(),
        **agreement(judgments),
    })


if __name__ == "__main__":
    run_stage("label", main, "base", "candidates", "contexts", "judgments", "pairs", "metrics", "cache")
