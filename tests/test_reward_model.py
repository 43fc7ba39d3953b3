"""The persona reward model: it learns a planted preference, the saved folder reproduces its rewards,
batching does not change a reward, held-out groups stay whole, and `mascot score` prints one line per reply."""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics

import polars as pl
import pytest
import torch

from mascot.config import LoraConfig, PersonaRMConfig
from mascot.data import contexts_frame
from mascot.persona_rm import persona_subjects
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.reward_model import (
    SCALE_PAIRS,
    RewardModel,
    RMEncoder,
    score_cli,
    split_pairs,
    train_reward_model,
)
from mascot.schemas import CONTEXTS, preference_pairs_schema, validate

from .conftest import REPO

PERSONAS = ["the_anchor", "the_catalyst", "the_beacon", "the_action_guide"]
EMOTIONS = [("sad", "negative"), ("proud", "positive"), ("anxious", "negative"), ("nostalgic", "neutral")]
SITUATIONS = [
    "I failed my driving test for the second time",
    "my brother finally called me after a year",
    "our team won the regional quiz night",
    "the landlord says we have to move out next month",
    "I found my grandmother's old letters in the attic",
]
CALM = [
    "That sounds really hard, and it makes sense that you feel this way.",
    "I am glad you told us. Take a breath; we are here with you.",
    "It is okay to feel shaken after something like that.",
    "What a lovely moment. You have every reason to feel good about it.",
    "Let us take it one small step at a time, together.",
    "You handled a difficult day with more patience than you think.",
    "I hear how much this matters to you.",
    "That is a lot to carry. Be gentle with yourself tonight.",
]
pytestmark = pytest.mark.usefixtures("one_thread")
N_CONTEXTS, PAIRS_PER_GROUP = 40, 5
CFG = PersonaRMConfig(
    lora=LoraConfig(r=8, alpha=16, dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]),
    learning_rate=1e-2,  # a random 2-layer model needs a push; 60 steps ≈ 3 epochs of the train pairs
    max_steps=60,
    batch_size=8,
    max_length=768,
    eval_fraction=0.25,
    eval_steps=30,
    seed=3,
)


def synthetic_contexts() -> pl.DataFrame:
    rows = []
    for i in range(N_CONTEXTS):
        emotion, domain = EMOTIONS[i % len(EMOTIONS)]
        situation = f"{SITUATIONS[i % len(SITUATIONS)]} (story {i})"
        rows.append({
            "context_id": f"syn/train/{i}", "dataset": "empathetic_dialogues", "split": "train", "domain": domain,
            "emotion": emotion, "situation": situation,
            "history": [{"speaker": "user", "text": f"So, {situation}. I keep thinking about it."}],
            "query": None, "reference": None, "source": "synthetic",
        })  # fmt: skip
    return validate(contexts_frame(rows), CONTEXTS)


def planted_pairs(contexts: pl.DataFrame) -> pl.DataFrame:
    """Chosen replies are calm; the rejected one is the same words shouted in capitals."""
    rng = random.Random(0)
    rows = []
    for i, cid in enumerate(contexts["context_id"]):
        persona = PERSONAS[i % len(PERSONAS)]
        for k in range(PAIRS_PER_GROUP):
            calm = rng.choice(CALM)
            rows.append({
                "pair_id": f"{cid}|{persona}|{k}>{k + PAIRS_PER_GROUP}", "context_id": cid, "persona": persona,
                "chosen_id": f"{cid}|{persona}|{k}", "rejected_id": f"{cid}|{persona}|{k + PAIRS_PER_GROUP}",
                "chosen": calm, "rejected": calm.upper().replace(".", "!!!"),
                "score_chosen": 4.5, "score_rejected": 2.0, "margin": 2.5,
            })  # fmt: skip
    return validate(pl.DataFrame(rows), preference_pairs_schema(0.5))


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory):
    contexts = synthetic_contexts()
    pairs = planted_pairs(contexts)
    root = tmp_path_factory.mktemp("persona_rm")
    metrics = train_reward_model(
        tiny_model, pairs, contexts, persona_subjects(load_cards(REPO / "configs/personas")), Prompts(REPO / "configs/prompts"),
        CFG, root / "rm", root / "plots",
    )  # fmt: skip
    return metrics, root / "rm", pairs, contexts


def test_learns_the_planted_preference(trained):
    metrics, out, pairs, contexts = trained
    by_id = {r["context_id"]: r for r in contexts.iter_rows(named=True)}
    print(json.dumps(metrics))
    assert metrics["train_pairs"] + metrics["eval_pairs"] == pairs.height and metrics["pairs_too_long"] == 0
    assert metrics["eval_pairs"] >= 20
    assert metrics["eval_accuracy"] >= 0.8
    assert metrics["eval_accuracy"] > metrics["eval_accuracy_before"]
    assert metrics["eval_mean_margin"] > 0
    assert 0 < metrics["trainable_pct"] < 100
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json", "mascot_rm.json"}
    assert not any(p.name.startswith("checkpoint") or p.name == "adapter_config.json" for p in out.iterdir())
    meta = json.loads((out / "mascot_rm.json").read_text())
    assert meta["personas"] == sorted(PERSONAS) and meta["max_length"] == CFG.max_length
    # GRPO standardizes by the spread over (a sample of) the training replies: centred there, unit spread there
    rm = RewardModel.load(out)
    train, _ = split_pairs(pairs, CFG.eval_fraction, CFG.seed)
    train = train.sample(min(SCALE_PAIRS, train.height), seed=CFG.seed)
    rows = [by_id[c] for c in train["context_id"]] * 2
    cards = load_cards(REPO / "configs/personas")
    personas = [cards.get(p) for p in train["persona"]] * 2
    z = rm.standardize(rm.score(rows, personas, train["chosen"].to_list() + train["rejected"].to_list()))
    assert statistics.fmean(z) == pytest.approx(0, abs=1e-3) and statistics.pstdev(z) == pytest.approx(1, abs=1e-3)


def test_saved_model_reproduces_metrics_and_batching_changes_nothing(trained):
    metrics, out, pairs, contexts = trained
    rm = RewardModel.load(out)
    cards = load_cards(REPO / "configs/personas")
    by_id = {r["context_id"]: r for r in contexts.iter_rows(named=True)}
    _, held = split_pairs(pairs, CFG.eval_fraction, CFG.seed)
    rows = [by_id[c] for c in held["context_id"]]
    personas = [cards.get(p) for p in held["persona"]]
    chosen = rm.score(rows, personas, held["chosen"].to_list(), batch_size=7)
    rejected = rm.score(rows, personas, held["rejected"].to_list(), batch_size=7)
    assert round(sum(c > r for c, r in zip(chosen, rejected)) / held.height, 4) == metrics["eval_accuracy"]
    # a second load gives the same rewards; batched (mixed lengths, right padding) equals one at a time
    again = RewardModel.load(out)
    mixed = [*held["chosen"].to_list()[:3], *held["rejected"].to_list()[:3], "Short.", "A much longer reply " * 6]
    ctx6, per6 = rows[:3] * 2 + rows[:2], personas[:3] * 2 + personas[:2]
    batched = again.score(ctx6, per6, mixed, batch_size=8)
    single = [rm.score([c], [p], [m])[0] for c, p, m in zip(ctx6, per6, mixed)]
    assert batched == pytest.approx(single, abs=1e-5)
    assert batched[:3] == pytest.approx(chosen[:3], abs=1e-5)


def test_encoding_matches_trl_conversational_format(tiny_model):
    """Training feeds TRL pre-tokenized ids; they must be what TRL makes of the conversational form."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    contexts = synthetic_contexts()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    cards = load_cards(REPO / "configs/personas")
    encoder = RMEncoder(tokenizer, Prompts(REPO / "configs/prompts"), 768)
    ctx, persona = contexts.row(0, named=True), cards.get("the_anchor")
    prompt = encoder.prompt(ctx, persona, 768 - 96)
    convo = Dataset.from_list([{
        "prompt": prompt, "chosen": [{"role": "assistant", "content": "Calm."}],
        "rejected": [{"role": "assistant", "content": "LOUD!"}],
    }])  # fmt: skip
    args = RewardConfig(
        output_dir=str(tiny_model / "unused"),
        report_to="none",
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        max_length=None,
    )
    processed = RewardTrainer._prepare_dataset(None, convo, tokenizer, args, "check")[0]
    assert processed["chosen_ids"] == encoder.encode_many([ctx], [persona], ["Calm."])[0]
    assert processed["rejected_ids"] == encoder.encode_many([ctx], [persona], ["LOUD!"])[0]


def test_long_history_is_trimmed_and_long_replies_keep_whole(tiny_model):
    from transformers import AutoTokenizer

    ctx = synthetic_contexts().row(0, named=True)
    speakers = ["friend", "user"]
    ctx["history"] = [{"speaker": speakers[i % 2], "text": f"turn {i}: " + "words " * 5} for i in range(20)]
    encoder = RMEncoder(AutoTokenizer.from_pretrained(tiny_model), Prompts(REPO / "configs/prompts"), 768)
    persona = load_cards(REPO / "configs/personas").get("the_anchor")
    long_reply = "Calm and steady. " * 24  # far more than the room kept for a reply, whatever the tiny vocabulary
    encoded = encoder.encode_many([ctx, ctx], [persona, persona], ["Calm.", long_reply])
    short, long_ = (encoder.tokenizer.decode(ids) for ids in encoded)

    def kept(text):
        return sum(f"turn {i}:" in text for i in range(20))

    assert "turn 19:" in short and "turn 0:" not in short, "the oldest turns go first"
    assert long_reply.strip() in long_ and "turn 19:" in long_
    assert kept(long_) < kept(short), "a long reply pushes out more history instead of being cut"
    assert all(len(ids) <= 768 for ids in encoded)


def test_split_keeps_groups_whole_and_is_deterministic():
    pairs = planted_pairs(synthetic_contexts())
    train, held = split_pairs(pairs, 0.25, seed=3)
    assert train.height + held.height == pairs.height and train.height > 0 and held.height > 0

    def groups(df):
        return set(zip(df["context_id"], df["persona"]))

    assert not groups(train) & groups(held)
    again_train, again_held = split_pairs(pairs.sample(fraction=1.0, shuffle=True, seed=1), 0.25, seed=3)
    assert groups(again_held) == groups(held) and set(again_train["pair_id"]) == set(train["pair_id"])
    assert groups(split_pairs(pairs, 0.25, seed=4)[1]) != groups(held)
    # a group's side depends on the group alone: dropping other groups never moves it
    subset = pairs.filter(pl.col("context_id").is_in(pairs["context_id"].unique().sort()[:20].to_list()))
    assert groups(split_pairs(subset, 0.25, seed=3)[1]) == groups(held) & groups(subset)


def test_split_edge_cases(caplog):
    pairs = planted_pairs(synthetic_contexts())
    one = pairs.filter(pl.col("context_id") == "syn/train/0")
    train, held = split_pairs(one, 0.5, seed=0)
    assert train.height == one.height and held.is_empty()
    assert "ONE (context, persona) group" in caplog.text
    two = pairs.filter(pl.col("context_id").is_in(["syn/train/0", "syn/train/1"]))
    for seed in range(10):  # whatever the hashes, both sides are non-empty
        train, held = split_pairs(two, 0.01, seed)
        assert train.height and held.height
        train, held = split_pairs(two, 0.99, seed)
        assert train.height and held.height
    with pytest.raises(ValueError, match="empty"):
        split_pairs(pairs.head(0), 0.2, 0)


def test_unknown_context_is_named(tiny_model, tmp_path):
    contexts = synthetic_contexts()
    pairs = planted_pairs(contexts)
    with pytest.raises(ValueError, match=r"preference pair 'syn/train/0\|the_anchor\|0>5': context_id 'syn/train/0'"):
        train_reward_model(
            tiny_model, pairs, contexts.filter(pl.col("context_id") != "syn/train/0"),
            persona_subjects(load_cards(REPO / "configs/personas")), Prompts(REPO / "configs/prompts"), CFG,
            tmp_path / "rm", tmp_path / "p",
        )  # fmt: skip


def test_score_cli_prints_one_line_per_response(trained, tmp_path):
    _, out, _, _ = trained
    history = tmp_path / "turns.json"
    history.write_text(json.dumps([{"speaker": "user", "text": "I failed my driving test again."}]))
    args = argparse.Namespace(
        model=str(out), persona="the_anchor", situation="I failed my driving test", emotion="sad", dataset=None,
        domain=None, query=None, history_file=str(history),
        response=[CALM[2], CALM[2].upper().replace(".", "!!!"), "Okay."],  # a calm reply and its planted opposite
        personas_dir=str(REPO / "configs/personas"), prompts_dir=None, device="cpu", batch_size=16,
    )  # fmt: skip
    buf = io.StringIO()
    assert score_cli(args, out=buf) == 0
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [line["response"] for line in lines] == args.response
    assert all(isinstance(line["score"], float) for line in lines)
    # each line is the score of its own response: alone it scores the same (the learned preference
    # itself is asserted on held-out pairs in test_learns_the_planted_preference)
    alone = io.StringIO()
    assert score_cli(argparse.Namespace(**{**vars(args), "response": [args.response[1]]}), out=alone) == 0
    assert json.loads(alone.getvalue())["score"] == pytest.approx(lines[1]["score"], abs=1e-4)
    assert len({line["score"] for line in lines}) == 3
    bad = argparse.Namespace(**{**vars(args), "emotion": None})
    with pytest.raises(ValueError, match="--emotion is required"):
        score_cli(bad, out=io.StringIO())
    typo = argparse.Namespace(**{**vars(args), "persona": "the_anchr"})
    with pytest.raises(ValueError, match="Did you mean 'the_anchor'"):
        score_cli(typo, out=io.StringIO())


def test_max_length_below_the_prompt_is_a_clear_error(tiny_model, tmp_path):
    contexts = synthetic_contexts()
    cfg = CFG.model_copy(update={"max_length": 256})
    with pytest.raises(ValueError, match=r"persona_rm.max_length=256 .*the shortest needs \d+"):
        train_reward_model(
            tiny_model, planted_pairs(contexts), contexts, persona_subjects(load_cards(REPO / "configs/personas")),
            Prompts(REPO / "configs/prompts"), cfg, tmp_path / "rm", tmp_path / "p",
        )  # fmt: skip


def test_one_group_trains_without_eval(tiny_model, tmp_path):
    contexts = synthetic_contexts()
    one = planted_pairs(contexts).filter(pl.col("context_id") == "syn/train/0")
    metrics = train_reward_model(
        tiny_model, one, contexts, persona_subjects(load_cards(REPO / "configs/personas")), Prompts(REPO / "configs/prompts"),
        CFG.model_copy(update={"max_steps": 2}), tmp_path / "rm", tmp_path / "p",
    )  # fmt: skip
    assert metrics["train_pairs"] == one.height and metrics["eval_pairs"] == 0
    assert metrics["eval_accuracy"] is None and metrics["eval_accuracy_before"] is None
    assert RewardModel.load(tmp_path / "rm").personas_seen == ["the_anchor"]


def test_bf16_training_saves_the_model_it_trained(tiny_model, tmp_path):
    # bf16 (the GPU setting) wraps the trained model's forward in autocast; the stage's check that the saved,
    # merged model reproduces the trained rewards must compare like with like, not bf16 against float32
    contexts = synthetic_contexts()
    pairs = planted_pairs(contexts)
    metrics = train_reward_model(
        tiny_model, pairs, contexts, persona_subjects(load_cards(REPO / "configs/personas")), Prompts(REPO / "configs/prompts"),
        CFG.model_copy(update={"max_steps": 2, "bf16": True}), tmp_path / "rm", tmp_path / "p",
    )  # fmt: skip
    assert metrics["train_pairs"] > 0
    saved = RewardModel.load(tmp_path / "rm")
    assert next(saved.model.parameters()).dtype == torch.float32
