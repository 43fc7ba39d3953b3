"""GRPO persona agents on tiny random models: real TRL GRPOTrainer, real adapters, real check."""

from __future__ import annotations

import json

import polars as pl
import pytest

from mascot.agents import AGENTS_META, Agents
from mascot.config import profile_config
from mascot.data.sampling import sample_contexts
from mascot.format_reward import FormatRules
from mascot.grpo_agents import (
    check_metrics,
    check_params,
    check_requests,
    compare_agents,
    train_agents,
)
from mascot.llm import SamplingParams, get_backend
from mascot.personas import load_cards
from mascot.reward_model import META_FILE, RewardModel
from mascot.rewards import FormatReward, PersonaRMReward
from mascot.schemas import AGENTS_CHECK, validate

from .conftest import REPO, build_tiny_rm

pytestmark = pytest.mark.usefixtures("one_thread")
CARDS = load_cards(REPO / "configs/personas")


def tiny_cfg(base, **grpo):
    cfg = profile_config("tiny")
    cfg.model.base = str(base)
    cfg.personas.dir = str(REPO / "configs/personas")
    cfg.prompts_dir = str(REPO / "configs/prompts")
    # two personas on one dataset keep each run to seconds
    cfg.ingest.datasets = ["empathetic_dialogues"]
    cfg.personas.empathetic_dialogues = ["the_anchor", "the_catalyst"]
    for key, value in grpo.items():
        setattr(cfg.grpo_agents, key, value)
    return cfg


@pytest.fixture(scope="module")
def contexts():
    from mascot.config import IngestConfig
    from mascot.data.ingest import ingest

    cfg = IngestConfig(
        empathetic_dialogues=str(REPO / "data/sample/empathetic_dialogues"), qmsum=str(REPO / "data/sample/qmsum"),
        datasets=["empathetic_dialogues"], n_per_domain={"train": 2, "valid": 2},
    )  # fmt: skip
    return ingest(cfg)[0]


@pytest.fixture(scope="module")
def tiny_rm(tiny_model, tmp_path_factory):
    """A reward-model folder on the tiny base: random head, recorded reward scale."""
    return build_tiny_rm(tiny_model, tmp_path_factory.mktemp("rm"), max_length=1024, reward_mean=0.5, reward_std=2.0)


@pytest.fixture(scope="module")
def trained(tiny_model, tiny_rm, contexts, tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo")
    cfg = tiny_cfg(tiny_model, learning_rate=0.05, beta=0.02)  # β > 0: the KL against π_SFT is computed and logged
    metrics = train_agents(tiny_model, None, tiny_rm, contexts, CARDS, cfg, root / "agents", root / "plots")
    return cfg, metrics, root


def test_two_grpo_steps_write_an_adapter_that_loads_and_changes_greedy_replies(trained, tiny_model, contexts):
    cfg, metrics, root = trained
    assert metrics["steps"] == 2 and metrics["adapters"] == 1 and 0 < metrics["trainable_pct"] < 100
    agents = Agents.load(root / "agents")
    assert agents.mode == "shared" and agents.adapters == {"the_anchor": "shared", "the_catalyst": "shared"}
    backend = get_backend("transformers")(tiny_model, adapters=agents.paths(), device="cpu")
    prompts = [
        [{"role": "system", "content": f"You are {p}."}, {"role": "user", "content": s}]
        for p in ("The Anchor", "The Catalyst")
        for s in contexts["situation"].head(3)
    ]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    seeds = [0] * len(prompts)
    before = [g.text for g in backend.generate(prompts, greedy, seeds, adapter=None)]
    after = [g.text for g in backend.generate(prompts, greedy, seeds, adapter="shared")]
    assert before != after


def test_both_reward_components_and_the_format_rules_are_logged_as_curves(trained):
    _, _, root = trained
    curves = root / "plots" / "shared" / "plots" / "metrics" / "train"
    for name in ("rewards/persona_rm/mean.tsv", "rewards/format/mean.tsv", "reward.tsv", "kl.tsv",
                 "format/pass.tsv", "format/no_loop.tsv", "completions/mean_length.tsv"):  # fmt: skip
        assert (curves / name).is_file(), name
    rows = (curves / "reward.tsv").read_text().strip().splitlines()
    assert rows[0].split("\t") == ["step", "reward"] and len(rows) == 3


def test_per_persona_mode_trains_one_adapter_per_persona(tiny_model, tiny_rm, contexts, tmp_path):
    cfg = tiny_cfg(tiny_model, adapter="per_persona", max_steps=1)
    metrics = train_agents(tiny_model, None, tiny_rm, contexts, CARDS, cfg, tmp_path / "agents", tmp_path / "plots")
    agents = Agents.load(tmp_path / "agents")
    assert agents.adapters == {"the_anchor": "the_anchor", "the_catalyst": "the_catalyst"}
    assert metrics["adapters"] == 2 and metrics["steps"] == 2
    assert set(agents.paths()) == {"the_anchor", "the_catalyst"}
    with pytest.raises(KeyError, match="the_anchor"):
        agents.adapter_for("the_ancor")


def test_check_uses_the_same_prompts_and_seeds_before_and_after(trained, tiny_model, tiny_rm, contexts):
    cfg, _, root = trained
    cfg.grpo_agents.check.samples = 2
    agents = Agents.load(root / "agents")
    rm = RewardModel.load(tiny_rm)
    table, metrics = compare_agents(tiny_model, None, agents, rm, contexts, CARDS, cfg)
    validate(table, AGENTS_CHECK)
    # tiny profile: 1 held-out context per valence domain × 2 personas × 2 samples
    assert metrics["check_prompts"] == 3 * 2 and metrics["check_replies"] == 3 * 2 * 2
    before, after = (table.filter(pl.col("policy") == p).drop("policy") for p in ("before", "after"))
    key = ["context_id", "persona", "sample_idx", "seed"]
    assert before.select(key).equals(after.select(key))
    # "before" is π_SFT (here the bare base): what a backend without adapters says to the same requests
    plain = get_backend("transformers")(
        tiny_model, dtype=cfg.model.dtype, device="cpu", batch_size=cfg.grpo_agents.check.batch_size
    )
    held = sample_contexts(contexts.filter(pl.col("split") == "valid"), 1, cfg.grpo_agents.check.seed)
    [requests] = check_requests(held, CARDS, cfg, agents, plain.count_tokens).values()
    gens = plain.generate([r["prompt"] for r in requests], check_params(cfg), [r["seed"] for r in requests])
    expected = {(r["context_id"], r["persona"], r["sample_idx"]): g.text for r, g in zip(requests, gens)}
    assert {tuple(r[:3]): r[3] for r in before.select(*key[:3], "response").iter_rows()} == expected
    # the rewards in the table are the RM's raw rewards for those replies
    rows = {r["context_id"]: r for r in contexts.iter_rows(named=True)}
    first = after.row(0, named=True)
    score = rm.score([rows[first["context_id"]]], [CARDS.get(first["persona"])], [first["response"]])[0]
    assert score == pytest.approx(first["persona_rm"], abs=1e-5)
    assert metrics["persona_rm_gain_ci_low"] <= metrics["persona_rm_gain"] <= metrics["persona_rm_gain_ci_high"]


def test_check_metrics_pair_by_prompt_and_bracket_the_gain():
    rows = []
    for c in range(8):
        for s in range(2):
            for policy, rm, ok in (("before", 0.0, s == 0), ("after", 1.0 + 0.1 * c, True)):
                rows.append({"context_id": f"c{c}", "persona": "p", "sample_idx": s, "policy": policy,
                             "persona_rm": rm, "format_pass": ok, "format_reward": 1.0 if ok else 0.5,
                             "completion_tokens": 10, "finish_reason": "stop", "format_failed": "" if ok else "length"})  # fmt: skip
    m = check_metrics(pl.DataFrame(rows), resamples=500, confidence=0.95, seed=0)
    assert m["check_prompts"] == 8 and m["check_replies"] == 16
    assert (
        m["persona_rm_gain"] == pytest.approx(1.35)
        and 1.0 < m["persona_rm_gain_ci_low"] < 1.35 < m["persona_rm_gain_ci_high"]
    )
    assert m["format_pass_rate_before"] == 0.5 and m["format_pass_rate_after"] == 1.0
    assert m["format_pass_rate_gain"] == m["format_pass_rate_gain_ci_low"] == 0.5  # every prompt gained exactly 0.5
    assert m["format_fail.length_before"] == 0.5 and m["format_fail.length_after"] == 0.0


def test_reward_functions_accept_what_grpo_trainer_passes(tiny_model, tiny_rm, contexts):
    cfg = tiny_cfg(tiny_model)
    by_id = {r["context_id"]: r for r in contexts.iter_rows(named=True)}
    cid = contexts["context_id"][0]
    groups = {"empathetic_dialogues": ["the_anchor", "the_catalyst"]}
    fmt = FormatReward(FormatRules(cfg.format_reward), by_id, CARDS, groups, eos_token_ids=[2])
    rm = PersonaRMReward(RewardModel.load(tiny_rm), by_id, CARDS)
    prompt = [{"role": "system", "content": "You are The Anchor."}, {"role": "user", "content": "hi"}]
    completions = [
        [{"role": "assistant", "content": "That sounds hard."}],
        [{"role": "assistant", "content": "User: ok"}],
    ]
    logged, extra = {}, {}
    kwargs = dict(
        prompts=[prompt, prompt], completions=completions, completion_ids=[[5, 6, 7, 2], [5, 6, 7, 8]],
        context_id=[cid, cid], persona=["the_anchor", "the_anchor"], trainer_state=object(),
        log_metric=lambda k, v: logged.__setitem__(k, v), log_extra=lambda k, v: extra.__setitem__(k, v),
    )  # fmt: skip
    assert fmt(**kwargs) == [1.0, pytest.approx(5 / 8)]  # the second: a tag, under three words, cut off (no EOS)
    assert logged["format/pass"] == 0.5 and logged["format/no_speaker_tag"] == 0.5
    assert extra["format_reasons"][0] == "ok" and "cut off" in extra["format_reasons"][1]
    raw = RewardModel.load(tiny_rm)
    expected = raw.standardize(
        raw.score([by_id[cid]] * 2, [CARDS.get("the_anchor")] * 2, ["That sounds hard.", "User: ok"])
    )
    assert rm(**kwargs) == pytest.approx(expected, abs=1e-5)
    assert (fmt.__name__, rm.__name__) == ("format", "persona_rm")


def test_missing_reward_scale_and_missing_adapters_are_named(tiny_rm, tmp_path):
    import shutil

    old = tmp_path / "old_rm"
    shutil.copytree(tiny_rm, old)
    meta = json.loads((old / META_FILE).read_text())
    del meta["reward_std"]
    (old / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="reward_mean/reward_std.*dvc repro persona_rm"):
        PersonaRMReward(RewardModel.load(old), {}, CARDS, standardize=True)
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / AGENTS_META).write_text(json.dumps({"mode": "shared", "adapters": {"the_anchor": "shared"}}))
    with pytest.raises(FileNotFoundError, match="the_anchor.*shared"):
        Agents.load(tmp_path / "agents")


def test_vllm_generation_is_switched_on_by_params_alone(tmp_path):
    """No GPU here to run vLLM; what params control must reach TRL's GRPOConfig unchanged."""
    from mascot.config import GRPOAgentsConfig
    from mascot.tracking import grpo_args

    names = ["persona_rm", "format"]
    off = grpo_args(GRPOAgentsConfig(beta=0.02), str(tmp_path), names, 64)
    assert not off.use_vllm and off.beta == 0.02 and off.num_generations == 4 and off.reward_weights == [0.25, 3.0]
    server = grpo_args(
        GRPOAgentsConfig(use_vllm=True, vllm_mode="server", vllm_server_base_url="http://10.0.0.2:8000"),
        str(tmp_path), names, 64,
    )  # fmt: skip
    assert (server.use_vllm, server.vllm_mode, server.vllm_server_base_url) == (True, "server", "http://10.0.0.2:8000")
    colocate = grpo_args(GRPOAgentsConfig(use_vllm=True, vllm_gpu_memory_utilization=0.5), str(tmp_path), names, 64)
    assert (colocate.vllm_mode, colocate.vllm_gpu_memory_utilization) == ("colocate", 0.5)
    with pytest.raises(ValueError, match="not a multiple of num_generations"):
        GRPOAgentsConfig(batch_size=6, gradient_accumulation_steps=1, num_generations=4)
