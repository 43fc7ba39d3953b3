"""Stage grpo_director: the director optimised with GRPO on the group reward (+ directive format),
then compared with the untrained director on held-out contexts with the same seeds."""

from mascot.agents import Agents
from mascot.embeddings import consecutive_similarity, load_embedder
from mascot.grpo_director import compare_director, train_director
from mascot.personas import load_cards
from mascot.reward_model import RewardModel
from mascot.schemas import CONTEXTS, DIRECTOR_CHECK, ROLLOUTS, read_table, write_table
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    contexts = read_table(args.contexts, CONTEXTS)
    rollouts = read_table(args.rollouts, ROLLOUTS)
    cards = load_cards(cfg.personas.dir)
    agents = Agents.load(args.agents)
    metrics = train_director(
        args.base, args.sft, agents, args.warm, args.rm, rollouts, contexts, cards, cfg, args.out, args.plots
    )
    if metrics is None:  # not the main process
        return
    log.info("before/after check on held-out '%s' contexts", cfg.grpo_director.check.split)
    rm = RewardModel.load(args.rm, device=cfg.model.device, prompts_dir=cfg.prompts_dir, kind="group")
    embedder = load_embedder(cfg.grpo_director.check.embedder)
    table, check = compare_director(
        args.base, args.sft, agents, args.warm, args.out, rm, contexts, cards, cfg,
        embed=lambda blocks: consecutive_similarity(blocks, embedder),
    )  # fmt: skip
    write_table(table, args.check, DIRECTOR_CHECK)
    write_metrics(args.metrics, metrics | check)


if __name__ == "__main__":
    run_stage("grpo_director", main, "base", "sft", "agents", "warm", "rm", "rollouts", "contexts", "out", "check",
              "metrics", "plots")  # fmt: skip
