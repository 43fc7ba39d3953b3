"""Stage director_sft: the director's LoRA warm-started on the strict directive format."""

from mascot.director_sft import train_director_sft
from mascot.personas import load_cards
from mascot.schemas import CANDIDATES, CONTEXTS, read_table
from mascot.stage import run_stage, write_metrics


def main(args, cfg):
    contexts = read_table(args.contexts, CONTEXTS)
    candidates = read_table(args.candidates, CANDIDATES)
    metrics = train_director_sft(
        args.base, args.sft, contexts, candidates, load_cards(cfg.personas.dir), cfg, args.out, args.plots
    )
    if metrics is not None:  # None: not the main process of a multi-process launch
        write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    run_stage("director_sft", main, "base", "sft", "contexts", "candidates", "out", "metrics", "plots")
