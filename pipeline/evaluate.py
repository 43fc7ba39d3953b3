"""Stage evaluate: every system of evaluate.systems answers the same held-out contexts; judges score
each agent turn and each whole reply; automatic metrics; MASCOT against the best baseline."""

from pathlib import Path

import polars as pl

from mascot.agents import Agents
from mascot.data.sampling import sample_contexts
from mascot.embeddings import load_embedder
from mascot.eval.evaluate import (
    agent_items,
    automatic_metrics,
    generate_replies,
    group_items,
    judged_scores,
    pair_items,
    pairwise_metrics,
    score_metrics,
    versus_best_baseline,
)
from mascot.eval.systems import SYSTEMS, EvalEngines
from mascot.format_reward import ReplyCheck
from mascot.judge.labeling import agreement, judge_all
from mascot.judge.rubric import load_rubric
from mascot.personas import load_cards
from mascot.progress import Progress
from mascot.prompts import Prompts
from mascot.resume import RecordStore, fingerprint_dir, stable_hash
from mascot.schemas import CONTEXTS, EVAL_REPLIES, JUDGMENTS, read_table, write_table
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    ev = cfg.evaluate
    contexts = read_table(args.contexts, CONTEXTS)
    held = sample_contexts(contexts.filter(pl.col("split") == ev.split), ev.contexts_per_domain, ev.seed)
    if held.is_empty():
        raise ValueError(f"evaluate.split: no '{ev.split}' contexts in {args.contexts}; add it to ingest.splits")
    # every rubric is read before hours of generation, so a bad one fails now
    rubrics = {ds: load_rubric(cfg.label.rubrics[ds]) for ds in cfg.ingest.datasets}
    group_rubric, pairwise_rubric = load_rubric(cfg.group_label.rubric), load_rubric(ev.pairwise_rubric)
    systems = [SYSTEMS.get(name, where="evaluate.systems") for name in ev.systems]
    engines = EvalEngines(
        args.base, args.sft, Agents.load(args.agents), args.director, load_cards(cfg.personas.dir), cfg
    )
    sources = (args.base, args.sft, args.agents, args.director, cfg.prompts_dir, cfg.personas.dir)
    fingerprint = stable_hash(*(fingerprint_dir(p) for p in sources))
    log.info("%d systems × %d contexts × %d samples", len(systems), held.height, ev.samples)
    replies = generate_replies(
        engines, systems, held, ev.samples, Path(args.resume), fingerprint, cfg.rollouts.chunk_size,
        progress=lambda system: Progress(f"{system}: replies"),
    )  # fmt: skip
    replies = write_table(replies, args.replies, EVAL_REPLIES)
    format_rates = engines.format_rates()  # over every chunk, resumed or generated
    engines.release()  # the judge loads its own model; the generators' memory goes first

    items = agent_items(replies, held, engines, rubrics) + group_items(replies, held, engines, systems, group_rubric)
    if "mascot" in ev.systems:
        items += pair_items(replies, held, engines, pairwise_rubric)
    store = RecordStore(Path(args.cache))
    log.info(
        "%d turns and replies × criteria to judge; %d judgments cached in %s", len(items), store.loaded, args.cache
    )
    judgments, metrics = judge_all(ev.judges, items, Prompts(cfg.prompts_dir), store, args.base, cfg.model, "items")
    judgments = write_table(judgments, args.judgments, JUDGMENTS)

    per_turn, per_reply = judged_scores(judgments, replies, held)
    metrics |= score_metrics(per_turn, "agent") | score_metrics(per_reply, "collective")
    for scores, family in ((per_turn, "agent"), (per_reply, "collective")):
        metrics |= versus_best_baseline(scores, family, ev.bootstrap_resamples, ev.confidence, ev.seed)
    write_bars(Path(args.plots), {"agent": per_turn, "collective": per_reply})
    check = ReplyCheck(cfg.format_reward, engines.cards, cfg.groups())
    metrics |= automatic_metrics(replies, held, load_embedder(ev.embedder), cfg.groups(), check)
    metrics |= format_rates
    metrics |= pairwise_metrics(judgments, held, ev.tie_margin)
    metrics |= agreement(judgments)
    metrics |= {"contexts": held.height, "replies": replies["block_id"].n_unique(), "confidence": ev.confidence}
    write_metrics(args.metrics, metrics)


def write_bars(folder: Path, scores: dict[str, pl.DataFrame]) -> None:
    """Per family and dataset, each system's mean overall: what `dvc plots show` draws as bars."""
    folder.mkdir(parents=True, exist_ok=True)
    for family, table in scores.items():
        for (dataset,), part in table.group_by("dataset"):
            bars = part.group_by("system").agg(pl.col("overall").mean().round(2)).sort("system")
            bars.write_csv(folder / f"{family}_{dataset}.csv")


if __name__ == "__main__":
    run_stage("evaluate", main, "base", "sft", "agents", "director", "contexts", "replies", "judgments", "metrics",
              "plots", "resume", "cache")  # fmt: skip
