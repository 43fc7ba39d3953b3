"""The MBTI study on tiny models: simulated users of two types talk with the trained group for two
rounds, a rerun is served from the record store, every agent turn is judged in its conversation,
and the heatmap and metrics come out per agent × type (checked by hand on made-up scores)."""

from __future__ import annotations

import polars as pl
import pytest

from mascot.agents import Agents
from mascot.choices import MBTI_TYPES
from mascot.config import ConfigError, load_config
from mascot.eval.mbti import (
    Simulation,
    clean_user_text,
    converse,
    heatmap,
    judge_items,
    load_simulators,
    study_metrics,
    turn_scores,
)
from mascot.eval.systems import SYSTEMS, EvalEngines
from mascot.judge.rubric import load_rubric
from mascot.llm import SamplingParams
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.resume import RecordStore
from mascot.schemas import MBTI_CONVERSATIONS, MBTI_HEATMAP, validate

from .conftest import REPO

pytestmark = pytest.mark.usefixtures("one_thread")
SIMULATORS = REPO / "configs/user_simulators"


def contexts() -> pl.DataFrame:
    return pl.DataFrame([
        {"context_id": "ed1", "dataset": "empathetic_dialogues", "split": "valid", "domain": "negative",
         "emotion": "sad", "situation": "My dog died.", "query": None, "history": [{"speaker": "user", "text": "x"}]},
        {"context_id": "ed2", "dataset": "empathetic_dialogues", "split": "valid", "domain": "positive",
         "emotion": "proud", "situation": "I got the job.", "query": None, "history": [{"speaker": "user", "text": "y"}]},
    ])  # fmt: skip


def test_the_shipped_simulators_cover_the_16_types_and_bad_files_are_named(tmp_path):
    sims, version = load_simulators(SIMULATORS / "mbti.yaml")
    assert sorted(sims.names()) == sorted(MBTI_TYPES) and len(MBTI_TYPES) == 16 and version
    bad = tmp_path / "mbti.yaml"
    bad.write_text(
        "version: '1'\nsimulators:\n  - {type: INFJ, title: a, style: b}\n  - {type: IXFJ, title: a, style: b}\n"
    )
    with pytest.raises(
        ValueError,
        match=r"mbti.yaml: invalid user simulator file: simulators.1.type: .*'IXFJ' is not a Myers-Briggs type",
    ):
        load_simulators(bad)
    bad.write_text(
        "version: '1'\nsimulators:\n  - {type: INFJ, title: a, style: b}\n  - {type: INFJ, title: c, style: d}\n"
    )
    with pytest.raises(ValueError, match=r"simulators\[1\]: type INFJ is listed twice"):
        load_simulators(bad)
    with pytest.raises(ConfigError, match=r"mbti.types\[1\].*'INFJJ'.*INFJ"):
        load_config(REPO / "params.yaml", {"mbti.types": ["ENTP", "INFJJ"]})


@pytest.mark.parametrize(("raw", "shown"), [("You: I miss him.", "I miss him."), ("  ", "…"), ("fine", "fine")])
def test_the_simulated_users_label_is_dropped(raw, shown):
    assert clean_user_text(raw) == shown


@pytest.fixture(scope="module")
def study(tiny_group, tmp_path_factory):
    cfg = load_config(tiny_group / "params.yaml", {"conversation.max_turns": 2})
    models = tiny_group / "models"
    engines = EvalEngines(models / "base", models / "sft", Agents.load(models / "agents"), models / "director",
                          load_cards(cfg.personas.dir), cfg)  # fmt: skip
    sims, _ = load_simulators(SIMULATORS / "mbti.yaml")
    picked = [sims.get("INTJ"), sims.get("ESFP")]
    simulation = Simulation(engines.backend("base"), Prompts(SIMULATORS), SamplingParams(0.8, 1.0, 6), seed=3)
    system = SYSTEMS.get("mascot")
    store_path = tmp_path_factory.mktemp("mbti") / "mbti.jsonl"

    def run():
        return converse(engines.engine(system), simulation, picked, contexts(), engines.cards, engines.groups(system),
                        2, RecordStore(store_path), "fp")  # fmt: skip

    return cfg, engines, simulation, picked, run, run()


def test_each_type_opens_and_the_group_replies_each_round(study):
    cfg, engines, simulation, picked, _, conversations = study
    validate(conversations, MBTI_CONVERSATIONS)
    assert conversations.select("type", "context_id").n_unique() == 2 * 2
    ed_group = set(cfg.groups()["empathetic_dialogues"])
    for (_type, _context), turns in conversations.sort("position").group_by("type", "context_id", maintain_order=True):
        roles, rounds = turns["role"].to_list(), turns["round"].to_list()
        assert roles[0] == "user" and roles[-1] == "agent"  # the user opens; the group has the last word
        assert roles.count("user") == 2 and rounds[-1] == 1  # two rounds: user, group, user, group
        for r in (0, 1):
            agents = turns.filter((pl.col("round") == r) & (pl.col("role") == "agent"))
            assert 1 <= agents.height <= 2 and set(agents["speaker"]) <= ed_group
    # the simulated user is told its type and style, and sees the conversation so far as "You"
    from mascot.chat.engine import group_names
    from mascot.chat.state import ConversationState

    group = cfg.groups()["empathetic_dialogues"]
    state = ConversationState.start(
        contexts().row(0, named=True) | {"history": []}, group, group_names(engines.cards, group)
    )
    state.add_user("It hurts.")
    state.add_agent(group[0], "I am here.", None)
    system, opening, mine, theirs = simulation.messages(picked[0], state)
    assert "INTJ" in system["content"] and picked[0].style in system["content"]
    assert "My dog died." in system["content"] and "sad" in system["content"]
    # the chat seen from the user's side: its own words are its assistant turns, the group's its user turns
    assert opening["role"] == "user" and mine == {"role": "assistant", "content": "It hurts."}
    assert theirs == {"role": "user", "content": "I am here."}
    # different types write different opening messages for the same context
    openings = conversations.filter(pl.col("position") == 0).sort("context_id", "type")
    assert openings.filter(pl.col("context_id") == "ed1")["text"].n_unique() == 2


def test_a_rerun_is_served_from_the_record_store(study, monkeypatch):
    _, engines, _, _, run, conversations = study

    def no_generation(*args, **kwargs):
        raise AssertionError("a finished conversation was generated again")

    for backend in engines._backends.values():
        monkeypatch.setattr(backend, "generate", no_generation)
    assert run().equals(conversations)


def test_every_agent_turn_is_judged_in_its_conversation(study):
    cfg, engines, _, _, _, conversations = study
    rubric = load_rubric(cfg.label.rubrics["empathetic_dialogues"])
    items = judge_items(conversations, contexts(), engines.cards, {"empathetic_dialogues": rubric})
    agent_turns = conversations.filter(pl.col("role") == "agent")
    assert len(items) == agent_turns.height
    last = max(
        (i for i in items if i.candidate_id.startswith("mbti|ESFP|ed2|")),
        key=lambda i: int(i.candidate_id.split("|")[3]),
    )
    turns = conversations.filter((pl.col("type") == "ESFP") & (pl.col("context_id") == "ed2")).sort("position")
    position = int(last.candidate_id.split("|")[3])
    assert [h["text"] for h in last.context["history"]] == turns["text"].to_list()[:position]
    assert last.context["history"][0]["speaker"] == "user" and last.context["situation"] == "I got the job."


def test_heatmap_and_metrics_by_hand():
    conv = pl.DataFrame([
        {"type": t, "context_id": "c", "position": p, "round": 0, "role": r, "speaker": s, "text": "a b c"}
        for t in ("INTJ", "ENFP")
        for p, r, s in ((0, "user", "user"), (1, "agent", "the_anchor"), (2, "agent", "the_beacon"))
    ])  # fmt: skip
    # INTJ: anchor 5/5 → 100, beacon 3/3 → 50; ENFP: anchor 1/1 → 0, beacon 4/2 → 50
    marks = {("INTJ", 1): (5, 5), ("INTJ", 2): (3, 3), ("ENFP", 1): (1, 1), ("ENFP", 2): (4, 2)}
    judgments = pl.DataFrame([
        {"candidate_id": f"mbti|{t}|c|{p}", "criterion": c, "score": float(v), "status": "ok"}
        for (t, p), vs in marks.items() for c, v in zip(("empathy", "relevance"), vs)
    ])  # fmt: skip
    scores = turn_scores(judgments)
    cells = heatmap(conv, scores, {"the_anchor": "The Anchor", "the_beacon": "The Beacon"})
    assert cells.select("type", "agent", "overall").rows() == [
        ("ENFP", "The Anchor", 0.0), ("ENFP", "The Beacon", 50.0), ("INTJ", "The Anchor", 100.0), ("INTJ", "The Beacon", 50.0)
    ]  # fmt: skip
    validate(cells.select("type", "agent", "overall", "turns"), MBTI_HEATMAP)  # what the stage writes for dvc plots
    m = study_metrics(conv, scores, cells)
    assert m["INTJ.the_anchor.overall"] == 100.0 and m["ENFP.the_beacon.turns"] == 1
    assert m["INTJ.overall"] == 75.0 and m["ENFP.overall"] == 25.0 and m["types_spread.overall"] == 50.0
    assert m["the_anchor.overall"] == 50.0 and m["ENFP.relevance"] == 12.5  # (0 + 25) / 2
    assert m["user_words_per_message"] == 3.0 and (m["types"], m["conversations"], m["agent_turns"]) == (2, 2, 4)
