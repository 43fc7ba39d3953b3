"""Stage rollouts: N-turn group blocks by the director (π_SFT, no adapter yet) and the GRPO agents."""

from pathlib import Path

import polars as pl

from mascot.chat.engine import GroupEngine
from mascot.data.sampling import sample_contexts
from mascot.grpo_agents import Agents, persona_groups
from mascot.llm import get_backend
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.resume import RecordStore, fingerprint_dir, stable_hash
from mascot.rollouts import generate_rollouts, rollout_metrics
from mascot.schemas import CONTEXTS, ROLLOUTS, read_table, write_table
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    r = cfg.rollouts
    contexts = read_table(args.contexts, CONTEXTS).filter(pl.col("split") == r.split)
    contexts = sample_contexts(contexts, r.contexts_per_domain, cfg.conversation.seed)
    if contexts.is_empty():
        raise ValueError(f"rollouts.split: no '{r.split}' contexts in {args.contexts}; add it to ingest.splits")
    cards = load_cards(cfg.personas.dir)
    agents = Agents.load(args.agents)
    backend = get_backend("transformers")(
        args.base, adapters=agents.paths(), merge=args.sft, dtype=cfg.model.dtype, device=cfg.model.device,
        batch_size=r.chunk_size,
    )  # fmt: skip
    groups = persona_groups(cfg)
    engine = GroupEngine(
        backend, cards, Prompts(cfg.prompts_dir), cfg.conversation.settings(),
        agent_adapters={p: agents.adapter_for(p) for names in groups.values() for p in names},
    )  # fmt: skip
    fingerprint = stable_hash(fingerprint_dir(args.base), fingerprint_dir(args.sft), fingerprint_dir(args.agents))
    store = RecordStore(Path(args.resume))
    log.info("%d contexts × %d blocks; %d chunks already in %s", contexts.height, r.samples, store.loaded, args.resume)
    rows = generate_rollouts(
        contexts, cards, groups, engine, r.samples, store, fingerprint, r.chunk_size,
        progress=lambda done, total: log.info("%d/%d blocks", done, total),
    )  # fmt: skip
    table = pl.DataFrame(rows, schema_overrides={"sample_idx": pl.Int64, "turn": pl.Int64, "directive_problem": pl.Utf8})
    write_table(table, args.out, ROLLOUTS)
    write_metrics(args.metrics, rollout_metrics(table))


if __name__ == "__main__":
    run_stage("rollouts", main, "base", "sft", "agents", "contexts", "out", "metrics", "resume")
