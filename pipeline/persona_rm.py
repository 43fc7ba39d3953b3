"""Stage persona_rm: the persona reward model r_φ(x, ρ, y), Bradley–Terry on judged preference pairs."""

from mascot.persona_rm import persona_subjects
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.reward_model import train_reward_model
from mascot.schemas import CONTEXTS, preference_pairs_schema, read_table
from mascot.stage import run_stage, write_metrics


def main(args, cfg):
    # The label stage enforces the gap δ when it writes the pairs; reading accepts any non-negative
    # margin, so a δ change re-labels upstream instead of failing here.
    pairs = read_table(args.pairs, preference_pairs_schema(0.0))
    contexts = read_table(args.contexts, CONTEXTS)
    base = cfg.persona_rm.base or args.base
    metrics = train_reward_model(
        base, pairs, contexts, persona_subjects(load_cards(cfg.personas.dir)), Prompts(cfg.prompts_dir), cfg.persona_rm,
        args.out, args.plots,
    )  # fmt: skip
    if metrics is not None:  # None: not the main process of a multi-process launch
        write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    run_stage("persona_rm", main, "base", "pairs", "contexts", "out", "metrics", "plots")
