"""Stage label: judge every candidate on its rubric → judgments; pairs with margin ≥ δ → preference_pairs."""

from pathlib import Path

from mascot.judge.labeling import aggregate, build_pairs, judge_all, score_metrics
from mascot.judge.rubric import load_rubric
from mascot.label import build_items
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.resume import RecordStore
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
    judgments, metrics = judge_all(lc.judges, items, prompts, store, args.base, cfg.model)
    judgments = write_table(judgments, args.judgments, JUDGMENTS)
    per_candidate = aggregate(judgments)
    pairs = build_pairs(candidates, per_candidate, lc.delta, lc.max_pairs_per_group)
    write_table(pairs, args.pairs, preference_pairs_schema(lc.delta))
    if pairs.is_empty():
        log.warning("no preference pairs with margin ≥ %s: the reward model will have nothing to learn", lc.delta)
    write_metrics(args.metrics, metrics | score_metrics(judgments, per_candidate, pairs, ("context_id", "persona")))


if __name__ == "__main__":
    run_stage("label", main, "base", "candidates", "contexts", "judgments", "pairs", "metrics", "cache")
