"""Stage group_rm: the group reward model, Bradley–Terry over judged block pairs."""

from mascot.group_rm import group_subjects
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.reward_model import train_reward_model
from mascot.schemas import CONTEXTS, preference_pairs_schema, read_table
from mascot.stage import run_stage, write_metrics


def main(args, cfg):
    pairs = read_table(args.pairs, preference_pairs_schema(0.0))  # δ is enforced where the pairs are written
    contexts = read_table(args.contexts, CONTEXTS)
    resolve = group_subjects(load_cards(cfg.personas.dir), cfg.groups())
    metrics = train_reward_model(
        cfg.group_rm.base or args.base, pairs, contexts, resolve, Prompts(cfg.prompts_dir), cfg.group_rm,
        args.out, args.plots, kind="group", reply_room=cfg.group_rm.reply_room,
    )  # fmt: skip
    if metrics is not None:  # None: not the main process of a multi-process launch
        write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    run_stage("group_rm", main, "base", "pairs", "contexts", "out", "metrics", "plots")
