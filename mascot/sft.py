"""π_SFT: a LoRA on the base model, trained with TRL's SFTTrainer on human turns.

Examples are (context prompt → the human listener turn) for EmpatheticDialogues
and (meeting window → the next meeting turn) for QMSum, in conversational
prompt-completion form so the loss falls on the reply only.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from pathlib import Path

import polars as pl

from mascot.config import SFTConfig
from mascot.prompts import Prompts, fit_history
from mascot.tracking import LiveCurves, lora_config, trainer_args

log = logging.getLogger(__name__)

REPLY_BUDGET = 96  # tokens kept free for the reply when fitting the prompt into max_length


def sft_examples(contexts: pl.DataFrame, prompts: Prompts, count_tokens, max_length: int) -> list[dict]:
    rows = []
    for ctx in contexts.filter(pl.col("reference").is_not_null()).iter_rows(named=True):
        messages = fit_history(
            lambda h, ctx=ctx: prompts.sft_messages(ctx, h), ctx["history"], count_tokens, max_length - REPLY_BUDGET
        )
        rows.append({"prompt": messages, "completion": [{"role": "assistant", "content": ctx["reference"]}]})
    return rows


def train_sft(
    base_dir: str | Path,
    contexts: pl.DataFrame,
    prompts: Prompts,
    cfg: SFTConfig,
    out_dir: str | Path,
    live_dir: str | Path,
) -> dict | None:
    """Train the adapter, save it to ``out_dir``; return final metrics (None on the other
    processes of a multi-process launch)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)  # bf16 is autocast, not weights

    def count(messages):
        # transformers 5 returns a BatchEncoding here; its len() would be the number of keys
        ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=True)
        return len(ids["input_ids"])

    train = sft_examples(contexts.filter(pl.col("split") == "train"), prompts, count, cfg.max_length)
    evals = sft_examples(contexts.filter(pl.col("split") != "train"), prompts, count, cfg.max_length)
    if cfg.max_eval_examples and len(evals) > cfg.max_eval_examples:  # an even spread over datasets and domains
        evals = evals[:: len(evals) // cfg.max_eval_examples][: cfg.max_eval_examples]
    if not train:
        raise ValueError("sft: no train contexts with a reference reply; check ingest.splits and ingest.n_per_domain")
    out_dir = Path(out_dir)
    scratch = tempfile.mkdtemp(prefix="mascot-sft-")
    args = TRLSFTConfig(
        **trainer_args(cfg, scratch, has_eval=bool(evals)),
        warmup_steps=math.ceil(cfg.warmup_ratio * cfg.max_steps),
        max_length=cfg.max_length,
    )
    peft_config = lora_config(cfg.lora, "CAUSAL_LM", model)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train),
        eval_dataset=Dataset.from_list(evals) if evals else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[LiveCurves(live_dir)],
    )
    first_eval = trainer.evaluate() if evals else {}
    result = trainer.train()
    logged = [
        h["eval_loss"] for h in trainer.state.log_history if h.get("step") == result.global_step and "eval_loss" in h
    ]
    last_eval = {"eval_loss": logged[-1]} if logged else (trainer.evaluate() if evals else {})
    shutil.rmtree(scratch, ignore_errors=True)
    if not trainer.accelerator.is_main_process:  # under accelerate launch the main process saves
        return None
    trainer.model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    trainable, total = trainer.model.get_nb_trainable_parameters()
    metrics = {
        "train_examples": len(train),
        "eval_examples": len(evals),
        "steps": result.global_step,
        "train_loss": round(result.training_loss, 4),
        "eval_loss_before": round(first_eval.get("eval_loss", float("nan")), 4) if evals else None,
        "eval_loss_after": round(last_eval.get("eval_loss", float("nan")), 4) if evals else None,
        "trainable_params": trainable,
        "trainable_pct": round(100 * trainable / total, 4),
    }
    # wall time is a benchmark figure, not a metric: it would make every `dvc metrics diff` differ
    log.info("sft: %d steps in %.1f s", result.global_step, result.metrics.get("train_runtime", 0.0))
    (out_dir / "mascot_sft.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
