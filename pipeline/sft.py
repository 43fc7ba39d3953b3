"""Stage sft: train π_SFT (a LoRA on the base model) on human listener and meeting turns."""

from mascot.prompts import Prompts
from mascot.schemas import CONTEXTS, read_table
from mascot.sft import train_sft
from mascot.stage import run_stage, write_metrics


def main(args, cfg):
    contexts = read_table(args.contexts, CONTEXTS)
    metrics = train_sft(args.base, contexts, Prompts(cfg.prompts_dir), cfg.sft, args.out, args.plots)
    if metrics is not None:  # None: not the main process of a multi-process launch
        write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    run_stage("sft", main, "base", "contexts", "out", "metrics", "plots")
