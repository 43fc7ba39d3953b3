"""Params are rejected before compute with the dotted key named; profiles and params.yaml stay in sync."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mascot.cli import main as cli
from mascot.config import (
    ConfigError,
    MascotConfig,
    dump_params,
    load_config,
    parse_config,
    profile_config,
    profile_names,
)
from mascot.personas import PersonaError, load_cards

from .conftest import REPO


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    monkeypatch.chdir(REPO)  # persona and prompt folders are relative to the repo


def bad(overrides: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(REPO / "params.yaml", overrides)
    return str(info.value)


def test_committed_params_equal_the_default_profile():
    assert (REPO / "params.yaml").read_text() == dump_params(profile_config("default")), (
        "params.yaml drifted from mascot/config.py; regenerate with `mascot params -o params.yaml`"
    )


@pytest.mark.parametrize("name", profile_names())
def test_every_profile_is_valid_and_round_trips(name, tmp_path):
    cfg = profile_config(name)
    path = tmp_path / "params.yaml"
    path.write_text(dump_params(cfg))
    assert load_config(path) == cfg


def test_profiles_change_scale_without_code():
    tiny, default, long, paper = (profile_config(n) for n in ("tiny", "default", "long", "paper"))
    assert tiny.candidates.k < default.candidates.k < paper.candidates.k
    assert default.grpo_agents.max_steps < long.grpo_agents.max_steps and len(long.evaluate.systems) == 11
    assert paper.model.base.startswith("Qwen/") and paper.sft.use_cpu is False


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"candidates.k": 1}, "candidates.k: Input should be greater than or equal to 2"),
        ({"candidates.temperature": -0.1}, "candidates.temperature"),
        ({"candidates.top_p": 1.5}, "candidates.top_p"),
        ({"sft.max_steps": "many"}, "sft.max_steps: Input should be a valid integer"),
        ({"candidates.temprature": 0.7}, "candidates.temprature: unknown key. Did you mean 'candidates.temperature'?"),
        ({"sft.lora.alpah": 4}, "sft.lora.alpah: unknown key. Did you mean 'sft.lora.alpha'?"),
        ({"ingest.datasets": ["qmsun"]}, "ingest.datasets[0]: unknown dataset 'qmsun'. Did you mean 'qmsum'?"),
        ({"ingest.n_per_domain": {"train": 0}}, "ingest.n_per_domain[train]: must be >= 1 or null"),
        ({"ingest.splits": ["training"]}, "ingest.splits[0]"),
        (
            {"personas.empathetic_dialogues": ["the_anchor", "the_beakon"]},
            "personas.empathetic_dialogues[1]: unknown persona 'the_beakon'. Did you mean 'the_beacon'?",
        ),
        ({"candidates.generation.backend": "vllm"}, "candidates.generation.backend"),
        (
            {"evaluate.systems": ["mascot", "zero_shoot"]},
            "evaluate.systems[1]: unknown evaluation system 'zero_shoot'. Did you mean 'zero_shot'?",
        ),
        ({"evaluate.systems": ["sft", "sft"]}, "evaluate.systems: a system is listed twice"),
        ({"director_sft.max_length": 300}, "director_sft.max_length (300) is below conversation.max_prompt_tokens"),
        ({"sft.lora.top_layers": 0}, "sft.lora.top_layers: Input should be greater than or equal to 1"),
        (
            {"conversation.agent_min_new_tokens": 48},
            "agent_min_new_tokens (48) must be below agent_max_new_tokens (48)",
        ),
        (
            {"conversation.speaker_rule": "least"},
            "conversation.speaker_rule: Input should be 'least_spoken', 'not_last' or 'any'",
        ),
    ],
)
def test_bad_values_name_the_key(overrides, expected):
    assert expected in bad(overrides)


def test_the_speaker_rules_offered_are_the_engines():
    from typing import get_args

    from mascot.chat.directive import SpeakerRule
    from mascot.chat.engine import engine_settings

    field = MascotConfig.model_fields["conversation"].annotation.model_fields["speaker_rule"]
    assert get_args(field.annotation) == get_args(SpeakerRule)
    conversation = parse_config({"conversation": {"speaker_rule": "not_last"}}).conversation
    assert engine_settings(conversation).speaker_rule == "not_last"


def test_the_agents_reply_floor_reaches_their_sampling_and_only_theirs():
    from mascot.chat.engine import engine_settings
    from mascot.llm.openai_backend import _extra_body
    from mascot.llm.transformers_backend import sampling_kwargs

    settings = engine_settings(parse_config({"conversation": {"agent_min_new_tokens": 12}}).conversation)
    assert settings.agent.min_new_tokens == 12 and settings.director.min_new_tokens == 0
    assert sampling_kwargs(settings.agent)["min_new_tokens"] == 12 and "min_new_tokens" not in sampling_kwargs(
        settings.director
    )
    assert _extra_body(settings.agent)["extra_body"]["min_tokens"] == 12 and _extra_body(settings.director) == {}


def test_a_megabyte_value_is_named_not_quoted_whole():
    message = bad({"sft.max_steps": "9" * 1_000_000 + "x", "candidates.temperature": "warm"})
    assert "sft.max_steps: " in message and "(1000003 chars)" in message and "candidates.temperature" in message
    assert len(message) < 1000


def test_all_problems_reported_at_once():
    message = bad({"candidates.k": 1, "sft.batch_size": 0, "model.dtyp": "float32"})
    assert "3 invalid parameter(s)" in message
    assert "model.dtyp: unknown key. Did you mean 'model.dtype'?" in message


def test_missing_and_malformed_params_file(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "params.yaml"
    broken.write_text("candidates: [k: 2\n")
    with pytest.raises(ConfigError, match="not a readable YAML params file"):
        load_config(broken)


def test_params_read_outside_the_repo_name_the_missing_card_folder(tmp_path, monkeypatch):
    # the cards are read when params load, relative to where the stage runs, even when params leave the
    # section out; importing the package elsewhere (the CLI's --help, a notebook) must not need them
    proc = subprocess.run([sys.executable, "-m", "mascot.cli", "--help"], cwd=tmp_path, capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": str(REPO)}, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    monkeypatch.chdir(tmp_path)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for params in (raw, {k: v for k, v in raw.items() if k != "personas"} | {"sft": {"max_steps": 0}}):
        with pytest.raises(ConfigError) as info:
            parse_config(params)
        assert "personas: personas.dir: folder 'configs/personas' does not exist" in str(info.value)
    assert "sft.max_steps" in str(info.value)  # reported with the other problems, not instead of them


def test_unknown_profile_suggests_closest(capsys):
    assert cli(["params", "--profile", "papr"]) == 2
    assert "Did you mean 'paper'?" in capsys.readouterr().err


def test_every_field_has_help_text():
    def walk(model):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no help text"
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, MascotConfig.__mro__[1]):
                walk(sub)

    walk(MascotConfig)


def test_a_new_persona_is_a_new_file(tmp_path):
    cards = tmp_path / "personas"
    shutil.copytree(REPO / "configs" / "personas", cards)
    card = yaml.safe_load((cards / "empathetic" / "the_anchor.yaml").read_text())
    card.update(name="the_mentor", display_name="The Mentor")
    (cards / "empathetic" / "the_mentor.yaml").write_text(yaml.safe_dump(card))
    cfg = parse_config({"personas": {"dir": str(cards), "empathetic_dialogues": ["the_anchor", "the_mentor"]}})
    assert cfg.personas.empathetic_dialogues == ["the_anchor", "the_mentor"]
    assert load_cards(cards).get("the_mentor").display_name == "The Mentor"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c.pop("role"), "role: Field required"),
        (lambda c: c.update(rules=[]), "rules: List should have at least 1 item"),
        (lambda c: c.update(name="someone_else"), "must equal the file name 'the_anchor'"),
        (lambda c: c.update(colour="red"), "colour: Extra inputs are not permitted"),
    ],
)
def test_malformed_persona_card_names_file_and_key(tmp_path, edit, expected):
    card = yaml.safe_load((REPO / "configs/personas/empathetic/the_anchor.yaml").read_text())
    edit(card)
    (tmp_path / "the_anchor.yaml").write_text(yaml.safe_dump(card))
    with pytest.raises(PersonaError) as info:
        load_cards(tmp_path)
    assert str(tmp_path / "the_anchor.yaml") in str(info.value) and expected in str(info.value)


def test_duplicate_persona_names_rejected(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(REPO / "configs/personas/empathetic/the_anchor.yaml", tmp_path / sub)
    with pytest.raises(PersonaError, match="already defined"):
        load_cards(tmp_path)


def test_check_command(capsys, tmp_path):
    assert cli(["check", str(REPO / "params.yaml")]) == 0
    path = Path(tmp_path / "p.yaml")
    path.write_text("candidates:\n  k: 0\n")
    assert cli(["check", str(path)]) == 2
    assert "candidates.k" in capsys.readouterr().err
