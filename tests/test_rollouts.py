"""Rollout blocks on a tiny model: turn structure, the record of directives, resume after a kill."""

from __future__ import annotations

import polars as pl
import pytest

from mascot.blocks import generate_rollouts
from mascot.chat.directive import END
from mascot.chat.engine import EngineSettings, GroupEngine
from mascot.llm import Generation, SamplingParams, get_backend
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.resume import RecordStore
from mascot.rollouts import rollout_metrics
from mascot.schemas import ROLLOUTS, validate

from .conftest import REPO

pytestmark = pytest.mark.usefixtures("one_thread")
CARDS = load_cards(REPO / "configs/personas")
GROUPS = {"empathetic_dialogues": ["the_anchor", "the_catalyst"]}
SETTINGS = EngineSettings(
    max_turns=2, max_prompt_tokens=1024,
    agent=SamplingParams(temperature=0.8, top_p=0.9, max_new_tokens=5),
    director=SamplingParams(temperature=0.8, top_p=0.9, max_new_tokens=5), director_attempts=1,
)  # fmt: skip


def contexts(n=3):
    return pl.DataFrame(
        [
            {"context_id": f"c{i}", "dataset": "empathetic_dialogues", "split": "train", "domain": "negative",
             "emotion": "sad", "situation": f"Situation {i}.", "query": None,
             "history": [{"speaker": "user", "text": f"Something happened, part {i}."}]}
            for i in range(n)
        ]
    )  # fmt: skip


class HalfValidDirector:
    """Writes a valid directive for even blocks and nonsense for odd ones; counts its calls."""

    name, model_name = "half", "half"

    def __init__(self, inner):
        self.inner, self.director_calls = inner, 0

    def count_tokens(self, messages):
        return self.inner.count_tokens(messages)

    def generate(self, prompts, params, seeds, adapter=None):
        if adapter != "director":
            return self.inner.generate(prompts, params, seeds, adapter)
        self.director_calls += 1
        return [
            Generation("Speaker: the_catalyst\nInstruction: Ask one question." if s % 2 == 0 else "hmm", "", 3, "stop")
            for s in seeds
        ]


@pytest.fixture(scope="module")
def backend(tiny_model):
    return get_backend("transformers")(tiny_model, device="cpu", batch_size=8)


def run(backend, store, chunk_size=2, order="director", ctx=None):
    engine = GroupEngine(
        backend, CARDS, Prompts(REPO / "configs/prompts"), SETTINGS, director_adapter="director", order=order
    )
    return generate_rollouts(contexts() if ctx is None else ctx, CARDS, GROUPS, engine, 2, store, "fp", chunk_size)


def test_blocks_record_every_directive_and_turn(backend, tmp_path):
    rows = run(HalfValidDirector(backend), RecordStore(tmp_path / "r.jsonl"))
    table = validate(pl.DataFrame(rows, schema_overrides={"directive_problem": pl.Utf8}), ROLLOUTS)
    assert table["block_id"].n_unique() == 3 * 2
    assert set(table["speaker"]) <= {"the_anchor", "the_catalyst", END}
    per_block = table.group_by("block_id").agg(pl.col("turn").sort())
    assert all(turns.to_list() == list(range(len(turns))) for turns in per_block["turn"])
    invalid = table.filter(~pl.col("directive_valid"))
    nonsense = invalid.filter(pl.col("directive_raw") == "hmm")
    assert nonsense.height > 0 and nonsense["directive_problem"].str.contains("not the two lines").all()
    # the catalyst named again in a reply she has spoken in: refused by the speaker rule, and counted
    repeats = invalid.filter(pl.col("directive_raw") != "hmm")
    assert repeats.height > 0 and repeats["directive_problem"].str.contains("the_catalyst may not speak now").all()
    valid = table.filter(pl.col("directive_valid"))
    assert (valid["speaker"] == "the_catalyst").all() and (valid["instruction"] == "Ask one question.").all()
    m = rollout_metrics(table)
    assert m["blocks"] == 6 and 0 < m["invalid_directive_rate"] < 1 and m["mean_turns_per_block"] == 2
    assert (table["directive_attempts"] == 1).all() and m["refused_sample_rate"] == m["invalid_directive_rate"]


def test_a_killed_run_resumes_and_ends_with_the_same_table(backend, tmp_path):
    full = run(backend, RecordStore(tmp_path / "full.jsonl"), order="random")
    partial_path = tmp_path / "partial.jsonl"
    run(backend, RecordStore(partial_path), order="random")
    lines = partial_path.read_text().splitlines(keepends=True)
    partial_path.write_text("".join(lines[:1]) + lines[1][:20])  # one chunk kept, the next torn mid-write
    store = RecordStore(partial_path)
    assert store.loaded == 1 and store.torn_lines == 1
    assert run(backend, store, order="random") == full


def test_a_changed_chunking_model_or_context_is_never_served_from_the_store(backend, tmp_path):
    store = RecordStore(tmp_path / "r.jsonl")
    counting = HalfValidDirector(backend)
    run(counting, store)
    calls = counting.director_calls
    run(counting, store)
    assert counting.director_calls == calls  # all from the store
    run(counting, store, chunk_size=3)
    assert counting.director_calls > calls
    # an edited context (same id) is a new conversation, not a replay
    calls = counting.director_calls
    edited = contexts().with_columns(pl.col("situation").str.replace("Situation", "A new situation"))
    run(counting, store, chunk_size=3, ctx=edited)
    assert counting.director_calls > calls


def test_blocks_are_judged_as_a_whole_and_paired_within_a_context(backend, tiny_model, tmp_path):
    from mascot.blocks import GROUP
    from mascot.config import JudgeConfig, ModelConfig
    from mascot.judge import judge_messages
    from mascot.judge.blocks import block_items, block_transcripts
    from mascot.judge.labeling import aggregate, build_pairs, judge_all
    from mascot.judge.rubric import load_rubric
    from mascot.schemas import JUDGMENTS, preference_pairs_schema

    rows = run(HalfValidDirector(backend), RecordStore(tmp_path / "r.jsonl"))
    rollouts = validate(pl.DataFrame(rows, schema_overrides={"directive_problem": pl.Utf8}), ROLLOUTS)
    blocks = block_transcripts(rollouts, CARDS)
    assert blocks.height == 6 and (blocks["persona"] == GROUP).all()
    first = blocks.row(0, named=True)
    assert first["response"].splitlines()[0].startswith(("The Anchor: ", "The Catalyst: "))
    rubric = load_rubric(REPO / "configs/rubrics/group.yaml")
    items = block_items(blocks, contexts(), CARDS, GROUPS, rubric)
    prompts = Prompts(REPO / "configs/prompts")
    system, user = (m["content"] for m in judge_messages(prompts, items[0], rubric.criteria[1], "logprobs"))
    assert "<<<GROUP REPLY" in user and "- The Anchor, the Emotional Validator." in user
    assert user.rstrip().endswith("Rate the group reply on Originality / Non-redundancy.")
    assert all(f"{c.title}: {c.question}" in system for c in rubric.criteria)  # every scale, read once per group
    judge = JudgeConfig(min_digit_mass=0.0, batch_size=4)  # a random tiny model spreads its mass thin
    judgments, metrics = judge_all([judge], items, prompts, RecordStore(tmp_path / "j.jsonl"), str(tiny_model),
                                   ModelConfig(device="cpu"), "blocks")  # fmt: skip
    judgments = validate(judgments, JUDGMENTS)
    assert judgments.height == 6 * 5 and (judgments["status"] == "ok").all() and metrics["judge.base.calls"] > 0
    pairs = validate(
        build_pairs(blocks.drop("turns"), aggregate(judgments), 0.0001, None), preference_pairs_schema(0.0001)
    )
    assert pairs.height > 0 and (pairs["persona"] == GROUP).all()
    assert (pairs["chosen_id"].str.split("|").list.first() == pairs["context_id"]).all()
