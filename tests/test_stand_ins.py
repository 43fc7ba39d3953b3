"""The benchmarks' stand-ins for the trained models: folders the stages load like a finished run's,
in the shapes the config trains, speaking as the base model until trained."""

from __future__ import annotations

import json

import pytest

from mascot.agents import Agents
from mascot.config import profile_config
from mascot.stand_ins import write_untrained_group


@pytest.fixture(scope="module")
def group(tiny_model, tmp_path_factory):
    cfg = profile_config("tiny")
    return cfg, write_untrained_group(tiny_model, tmp_path_factory.mktemp("stand_ins") / "models", cfg)


def test_the_group_loads_like_a_trained_one_in_the_configured_shapes(group):
    cfg, models = group
    agents = Agents.load(models / "agents")
    assert set(agents.adapters) == {p for names in cfg.groups().values() for p in names}
    for folder, lora in (
        ("sft", cfg.sft.lora),
        ("agents/shared", cfg.grpo_agents.lora),
        ("director", cfg.director_sft.lora),
    ):
        adapter = json.loads((models / folder / "adapter_config.json").read_text())
        assert sorted(adapter["target_modules"]) == sorted(lora.target_modules), folder
        assert (adapter["r"], adapter["lora_alpha"]) == (lora.r, lora.alpha), folder


def test_an_untrained_adapter_leaves_the_base_models_logits_unchanged(group, tiny_model):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, models = group
    ids = torch.tensor([[1, 5, 9, 13, 17]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    with torch.no_grad():
        expected = base(ids).logits
        adapted = PeftModel.from_pretrained(base, models / "director").eval()
        assert adapted.active_adapters and torch.equal(adapted(ids).logits, expected)
