"""The trained agents as the grpo_agents stage saves them (models/agents): one LoRA adapter
(``shared``) or one per persona over π_SFT, and ``mascot_agents.json`` saying which persona speaks
with which (:class:`Agents`); and π_SFT itself as plain weights (:func:`load_policy`), which those
adapters and the director's sit on. Read by the stages after grpo_agents, by chat and by
`mascot export-serving`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mascot.yaml_files import read_json_object

AGENTS_META = "mascot_agents.json"
SHARED = "shared"


@dataclass(frozen=True)
class Agents:
    """Which adapter each persona speaks with; adapters are LoRAs over base + merged SFT."""

    directory: Path
    mode: str
    adapters: dict[str, str]  # persona → adapter name (a subfolder)
    meta: dict

    @classmethod
    def load(cls, path: str | Path) -> Agents:
        path = Path(path)
        meta_path = path / AGENTS_META
        if not meta_path.is_file():
            raise FileNotFoundError(f"{path}: no {AGENTS_META}; train the agents with `dvc repro grpo_agents`")
        meta = read_json_object(meta_path, "record of trained agents")
        for key in ("mode", "adapters"):
            if key not in meta:
                raise ValueError(f"{meta_path}: missing key '{key}'")
        for persona, name in meta["adapters"].items():
            if not (path / name / "adapter_config.json").is_file():
                raise FileNotFoundError(
                    f"{meta_path}: persona '{persona}' uses adapter '{path / name}', which is missing"
                )
        return cls(path, meta["mode"], dict(meta["adapters"]), meta)

    def paths(self) -> dict[str, Path]:
        return {name: self.directory / name for name in sorted(set(self.adapters.values()))}

    def adapter_for(self, persona: str) -> str:
        if persona not in self.adapters:
            from mascot.registry import UnknownNameError

            raise UnknownNameError("trained persona", persona, self.adapters, where=str(self.directory))
        return self.adapters[persona]


def load_policy(base_dir: str | Path, sft_dir: str | Path | None, dtype: str = "float32"):
    """π_SFT as plain weights: the SFT adapter merged, so the GRPO LoRA is the only adapter. Training stages
    keep the float32 default (their mixed precision is the `bf16` flag); serving exports take model.dtype."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from mascot.llm.base_model import DTYPES

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=DTYPES[dtype])
    if sft_dir is not None:
        model = PeftModel.from_pretrained(model, str(sft_dir)).merge_and_unload()
    return model
