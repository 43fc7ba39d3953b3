"""Untrained stand-ins for the pipeline's trained models, in the trained ones' shapes: the LoRA
adapters of π_SFT, the agents and the director, and a reward model's scalar head.

What a stage costs in time and memory follows shapes and lengths, not what the models learned, so
the benchmarks time the expensive stages on stand-ins without hours of training first; the tests
build their tiny groups with the same writers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mascot.agents import AGENTS_META, SHARED
from mascot.config import LoraConfig, MascotConfig
from mascot.reward_model import META_FILE
from mascot.tracking import lora_config


def write_untrained_adapter(
    base_dir: str | Path, out_dir: str | Path, lora: LoraConfig, seed: int = 0, random_weights: bool = False
) -> Path:
    """A LoRA adapter folder over ``base_dir``. peft's own initialisation leaves the model's replies
    unchanged (its B matrices are zero); ``random_weights`` makes the adapter change them."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = get_peft_model(model, lora_config(lora, "CAUSAL_LM", model, init_lora_weights=not random_weights))
    model.save_pretrained(out_dir)
    return Path(out_dir)


def write_untrained_agents(
    base_dir: str | Path,
    out_dir: str | Path,
    personas: Iterable[str],
    lora: LoraConfig,
    seed: int = 1,
    random_weights: bool = False,
) -> Path:
    """An agents folder as `grpo_agents` writes it in its shared mode: one adapter every persona speaks with."""
    out_dir = Path(out_dir)
    write_untrained_adapter(base_dir, out_dir / SHARED, lora, seed, random_weights)
    meta = {"mode": SHARED, "adapters": dict.fromkeys(sorted(personas), SHARED)}
    (out_dir / AGENTS_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out_dir


def write_untrained_group(base_dir: str | Path, models_dir: str | Path, cfg: MascotConfig) -> Path:
    """``models_dir``/sft, /agents and /director over ``base_dir``, with the LoRA shapes ``cfg`` trains
    them with: a finished pipeline's model folders as the evaluation stages read them."""
    models_dir = Path(models_dir)
    write_untrained_adapter(base_dir, models_dir / "sft", cfg.sft.lora)
    personas = {p for names in cfg.groups().values() for p in names}
    write_untrained_agents(base_dir, models_dir / "agents", personas, cfg.grpo_agents.lora)
    write_untrained_adapter(base_dir, models_dir / "director", cfg.director_sft.lora)
    return models_dir


def write_untrained_reward_model(base_dir: str | Path, out_dir: str | Path, meta: dict[str, Any]) -> Path:
    """A reward-model folder on ``base_dir`` with a random scalar head (seed 0) and ``meta`` as its
    mascot_rm.json."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    out_dir = Path(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    return out_dir
