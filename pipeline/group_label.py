"""Stage group_label: judge every rollout block on the group rubric → group_judgments; block pairs
with margin ≥ δ within a context → group_pairs."""

from pathlib import Path

from mascot.judge.blocks import block_items, block_transcripts
from mascot.judge.labeling import aggregate, build_pairs, judge_all, score_metrics
from mascot.judge.rubric import load_rubric
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.resume import RecordStore
from mascot.schemas import CONTEXTS, JUDGMENTS, ROLLOUTS, preference_pairs_schema, read_table, write_table
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    gc = cfg.group_label
    cards = load_cards(cfg.personas.dir)
    blocks = block_transcripts(read_table(args.rollouts, ROLLOUTS), cards)
    items = block_items(blocks, read_table(args.contexts, CONTEXTS), cards, cfg.groups(), load_rubric(gc.rubric))
    store = RecordStore(Path(args.cache))
    log.info("%d blocks × criteria to judge; %d judgments cached in %s", len(items), store.loaded, args.cache)
    judgments, metrics = judge_all(gc.judges, items, Prompts(cfg.prompts_dir), store, args.base, cfg.model, "blocks")
    judgments = write_table(judgments, args.judgments, JUDGMENTS)
    per_block = aggregate(judgments)
    pairs = build_pairs(blocks.drop("turns"), per_block, gc.delta, gc.max_pairs_per_group)
    write_table(pairs, args.pairs, preference_pairs_schema(gc.delta))
    if pairs.is_empty():
        log.warning("no block pairs with margin ≥ %s: the group reward model will have nothing to learn", gc.delta)
    metrics |= score_metrics(judgments, per_block, pairs, ("context_id", "persona"))
    metrics["blocks_scored"] = metrics.pop("candidates_scored")
    metrics["contexts_with_pairs"] = metrics.pop("groups_with_pairs")
    write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    run_stage("group_label", main, "base", "rollouts", "contexts", "judgments", "pairs", "metrics", "cache")
