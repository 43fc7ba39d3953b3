"""Stage rollouts: N-turn group blocks by the warm-started director and the GRPO agents."""

from pathlib import Path

import polars as pl

from mascot.agents import Agents
from mascot.blocks import generate_rollouts
from mascot.data.sampling import sample_contexts
from mascot.format_reward import ReplyCheck
from mascot.personas import load_cards
from mascot.progress import Progress
from mascot.resume import RecordStore, fingerprint_dir, stable_hash
from mascot.rollouts import rollout_metrics
from mascot.schemas import CONTEXTS, ROLLOUTS, read_table, write_table
from mascot.stage import log, run_stage, write_metrics
from mascot.trained_group import WARM, group_engine


def main(args, cfg):
    r = cfg.rollouts
    contexts = read_table(args.contexts, CONTEXTS).filter(pl.col("split") == r.split)
    contexts = sample_contexts(contexts, r.contexts_per_domain, cfg.conversation.seed)
    if contexts.is_empty():
        raise ValueError(f"rollouts.split: no '{r.split}' contexts in {args.contexts}; add it to ingest.splits")
    cards = load_cards(cfg.personas.dir)
    engine = group_engine(args.base, args.sft, Agents.load(args.agents), cards, cfg, {WARM: args.director})
    groups = cfg.groups()
    # what the blocks depend on besides the contexts: models, prompt templates, persona cards
    sources = (args.base, args.sft, args.agents, args.director, cfg.prompts_dir, cfg.personas.dir)
    fingerprint = stable_hash(*(fingerprint_dir(p) for p in sources))
    store = RecordStore(Path(args.resume))
    log.info("%d contexts × %d blocks; %d chunks already in %s", contexts.height, r.samples, store.loaded, args.resume)
    rows = generate_rollouts(
        contexts, cards, groups, engine, r.samples, store, fingerprint, r.chunk_size,
        progress=Progress("blocks"),
    )  # fmt: skip
    table = pl.DataFrame(
        rows, schema_overrides={"sample_idx": pl.Int64, "turn": pl.Int64, "directive_problem": pl.Utf8}
    )
    write_table(table, args.out, ROLLOUTS)
    check = ReplyCheck(cfg.format_reward, cards, groups)
    write_metrics(args.metrics, rollout_metrics(table) | check.table_metrics(table, contexts))


if __name__ == "__main__":
    run_stage("rollouts", main, "base", "sft", "agents", "director", "contexts", "out", "metrics", "resume")
