"""Stage base_model: resolve model.base into a Hugging Face folder (models/base)."""

from mascot.llm.base_model import resolve_base_model
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    info = resolve_base_model(cfg.model, args.out)
    log.info("base model %s (%s parameters) → %s", info["source"], f"{info['parameters']:,}", args.out)
    write_metrics(args.metrics, {"parameters": info["parameters"], "vocab_size": info["vocab_size"]})


if __name__ == "__main__":
    run_stage("base_model", main, "out", "metrics")
