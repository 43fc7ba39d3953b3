"""`mascot export-serving`: the trained group in the shape an OpenAI-compatible LoRA server takes.

vLLM serves one base model per process and each LoRA adapter as a model of its own name
(`--lora-modules NAME=PATH`). The agents' and the director's adapters were trained on π_SFT, the
base with the SFT adapter merged, and vLLM cannot stack adapters, so π_SFT is written merged and
every other adapter is served on top of it under the name `serving.models` gives it.
"""

from __future__ import annotations

import json
from pathlib import Path

from mascot.app.workspace import group_files
from mascot.config import load_config


def export_serving(repo: str | Path = ".", out: str | Path = "serving", rev: str | None = None) -> list[str]:
    """Write π_SFT merged to ``out``/sft; return the vLLM command line (as arguments) that serves it
    with the agents' and the directors' adapters under their ``serving.models`` names."""
    from transformers import AutoTokenizer

    from mascot.agents import Agents, load_policy

    files = group_files(repo, rev)
    cfg = load_config(files.params)
    sft_out = Path(out) / "sft"
    load_policy(files.model("base"), files.model("sft"), cfg.model.dtype).save_pretrained(sft_out)
    AutoTokenizer.from_pretrained(files.model("base")).save_pretrained(sft_out)

    adapters = dict(Agents.load(files.model("agents")).paths())
    for name, folder in (("director_sft", files.root / "models/director_sft"), ("director", files.model("director"))):
        if folder.is_dir():  # director_sft only where the rollouts are to be served too
            adapters[name] = folder
    ranks = [json.loads((path / "adapter_config.json").read_text())["r"] for path in adapters.values()]
    names = cfg.serving.models
    return [
        "vllm", "serve", str(sft_out), "--served-model-name", cfg.serving.endpoint.model, "--enable-lora",
        "--max-lora-rank", str(max(ranks)), "--max-loras", str(len(adapters)), "--lora-modules",
        *(f"{names.get(name, name)}={path.resolve()}" for name, path in adapters.items()),
    ]  # fmt: skip
