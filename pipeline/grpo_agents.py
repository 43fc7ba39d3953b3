"""Stage grpo_agents: persona agents optimised with GRPO (persona-RM + format reward), then
compared with π_SFT on held-out contexts with the same prompts and seeds.

Runs as `python -m pipeline.grpo_agents ...` or under `accelerate launch ... -m pipeline.grpo_agents ...`
(params `launcher`); with several processes only the main one writes the check and the metrics.
"""

from mascot.agents import Agents
from mascot.grpo_agents import compare_agents, train_agents
from mascot.personas import load_cards
from mascot.reward_model import RewardModel
from mascot.schemas import AGENTS_CHECK, CONTEXTS, read_table, write_table
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    contexts = read_table(args.contexts, CONTEXTS)
    cards = load_cards(cfg.personas.dir)
    metrics = train_agents(args.base, args.sft, args.rm, contexts, cards, cfg, args.out, args.plots)
    if metrics is None:  # not the main process
        return
    log.info("before/after check on held-out '%s' contexts", cfg.grpo_agents.check.split)
    rm = RewardModel.load(args.rm, device=cfg.model.device, prompts_dir=cfg.prompts_dir, kind="persona")
    table, check = compare_agents(args.base, args.sft, Agents.load(args.out), rm, contexts, cards, cfg)
    write_table(table, args.check, AGENTS_CHECK)
    write_metrics(args.metrics, metrics | check)


if __name__ == "__main__":
    run_stage("grpo_agents", main, "base", "sft", "rm", "contexts", "out", "check", "metrics", "plots")
