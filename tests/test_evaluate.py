"""The evaluation on tiny models: every system's replies have the right turn structure, a rerun is
served from the record stores, the judges read each turn in its conversation, and the metrics
come out per split and system."""

from __future__ import annotations

import math

import polars as pl
import pytest

from mascot.agents import Agents
from mascot.chat.directive import END
from mascot.config import JudgeConfig, load_config
from mascot.embeddings import load_embedder
from mascot.eval.evaluate import (
    agent_items,
    automatic_metrics,
    generate_replies,
    group_items,
    judged_scores,
    pair_items,
    pairwise_metrics,
    score_metrics,
    versus_best_baseline,
)
from mascot.eval.systems import SYSTEMS, EvalEngines
from mascot.judge.labeling import judge_all
from mascot.judge.rubric import load_rubric
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.resume import RecordStore

from .conftest import REPO

pytestmark = pytest.mark.usefixtures("one_thread")
ED = ["the_anchor", "the_catalyst", "the_beacon", "the_action_guide"]
QM = ["the_facilitator", "the_analyst", "the_innovator", "the_implementer"]


def contexts() -> pl.DataFrame:
    rows = [
        {"context_id": "ed1", "dataset": "empathetic_dialogues", "split": "valid", "domain": "negative", "emotion": "sad",
         "situation": "My dog died.", "query": None, "history": [{"speaker": "user", "text": "My dog died last night."}]},
        {"context_id": "ed2", "dataset": "empathetic_dialogues", "split": "valid", "domain": "positive", "emotion": "proud",
         "situation": "I got the job.", "query": None, "history": [{"speaker": "user", "text": "I got the job!"}]},
        {"context_id": "qm1", "dataset": "qmsum", "split": "valid", "domain": "product", "emotion": None,
         "situation": "A product meeting about a remote control.", "query": "What did they decide about buttons?",
         "history": [{"speaker": "Project Manager", "text": "Let us settle the buttons."}]},
    ]  # fmt: skip
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def run(tiny_group, tmp_path_factory):
    cfg = load_config(
        tiny_group / "params.yaml",
        {
            "conversation.max_turns": 3,
            "evaluate.self_consistency_samples": 2,
            "evaluate.reasoning_tokens": 8,
            "evaluate.multiagent_esc_agents": 2,
            "evaluate.multiagent_esc_analysis_tokens": 8,
            "evaluate.systems": SYSTEMS.names(),
        },  # every system, whatever the default compares
    )
    models = tiny_group / "models"
    engines = EvalEngines(models / "base", models / "sft", Agents.load(models / "agents"), models / "director",
                          load_cards(cfg.personas.dir), cfg)  # fmt: skip
    systems = [SYSTEMS.get(n) for n in cfg.evaluate.systems]
    resume = tmp_path_factory.mktemp("eval_resume")
    replies = generate_replies(engines, systems, contexts(), 2, resume, "fp", chunk_size=4)
    return cfg, engines, systems, replies, resume


def speakers(replies: pl.DataFrame, system: str) -> dict[str, list[str]]:
    part = replies.filter((pl.col("system") == system) & (pl.col("speaker") != END)).sort("block_id", "turn")
    return {b: g["speaker"].to_list() for (b,), g in part.group_by("block_id", maintain_order=True)}


def test_every_system_answers_every_context_and_sample(run):
    cfg, _, systems, replies, _ = run
    blocks = replies.group_by("system").agg(pl.col("block_id").n_unique()).sort("system")
    assert dict(blocks.iter_rows()) == {s.name: 3 * 2 for s in systems}
    assert set(replies["system"]) == {"mascot", "mascot_p", "mascot_c", "sft", "zero_shot", "zero_shot_cot", "few_shot",
                                      "few_shot_cot", "self_consistency", "multiagent_esc", "single"}  # fmt: skip
    fixed = ("sft", "zero_shot", "zero_shot_cot", "few_shot", "few_shot_cot", "self_consistency", "multiagent_esc")
    for system in fixed:  # the group's order, up to max_turns companions
        for block, who in speakers(replies, system).items():
            group = QM if "qm1" in block else ED
            assert who == group[:3], (system, block)
    for block, who in speakers(replies, "single").items():  # π_SFT alone: one reply by the reference speaker
        assert who == (["reference_next_participant"] if "qm1" in block else ["reference_listener"])
    for system in ("mascot", "mascot_p", "mascot_c"):
        for block, who in speakers(replies, system).items():
            assert 1 <= len(who) <= 3 and set(who) <= set(QM if "qm1" in block else ED)
    directed = replies.filter(pl.col("system").is_in(["mascot", "mascot_p"]))
    assert (directed["directive_raw"] != "").all()  # the trained director wrote every directive
    assert (replies.filter(pl.col("system") == "mascot_c")["directive_raw"] == "").all()


def test_systems_differ_where_they_should(run):
    cfg, engines, _, replies, _ = run

    def texts(system):
        return replies.filter(pl.col("system") == system).sort("block_id", "turn")["text"].to_list()

    # same seeds and order: the base model and π_SFT write differently, and so do π_SFT and the GRPO agents
    assert texts("zero_shot") != texts("sft")
    # MASCOT-P: the persona card is gone from the agent's prompt, its name stays
    from mascot.chat.directive import Directive
    from mascot.chat.engine import group_names
    from mascot.chat.state import ConversationState

    ctx = contexts().row(0, named=True)
    state = ConversationState.start(ctx, ED, group_names(engines.cards, ED))
    card = engines.cards.get("the_anchor")
    p_system = engines.engine(SYSTEMS.get("mascot_p")).agent_messages(
        state, "the_anchor", Directive("the_anchor", "x")
    )[0]
    m_system = engines.engine(SYSTEMS.get("mascot")).agent_messages(state, "the_anchor", Directive("the_anchor", "x"))[
        0
    ]
    assert card.description in m_system["content"] and card.description not in p_system["content"]
    assert "The Anchor" in p_system["content"]
    # zero-shot: the card without its example lines; few-shot: with them
    zero = engines.engine(SYSTEMS.get("zero_shot")).agent_messages(state, "the_anchor", Directive("the_anchor", "x"))[0]
    few = engines.engine(SYSTEMS.get("few_shot")).agent_messages(state, "the_anchor", Directive("the_anchor", "x"))[0]
    assert card.examples[0] in few["content"] and card.examples[0] not in zero["content"]
    assert card.description in zero["content"]
    # the wrapped systems counted how often the model followed their format
    assert set(engines.format_rates()) == {
        "zero_shot_cot.reasoning_format_rate", "few_shot_cot.reasoning_format_rate",
        "multiagent_esc.strategy_format_rate", "multiagent_esc.vote_format_rate",
    }  # fmt: skip
    # the reference speaker is asked exactly as π_SFT was trained
    single = engines.engine(SYSTEMS.get("single"))
    state = ConversationState.start(ctx, ["reference_listener"], {"reference_listener": "the listener"})
    asked = single.agent_messages(state, "reference_listener", Directive("reference_listener", "x"))
    assert asked == Prompts(cfg.prompts_dir).sft_messages(ctx)


def test_a_rerun_is_served_from_the_record_stores(run, monkeypatch):
    cfg, engines, systems, replies, resume = run
    assert sorted(p.name for p in resume.iterdir()) == sorted(f"eval_{s.name}.jsonl" for s in systems)

    def no_generation(*args, **kwargs):
        raise AssertionError("a finished chunk was generated again")

    rates = engines.format_rates()
    for backend in engines._backends.values():
        monkeypatch.setattr(backend, "generate", no_generation)
    for wrapper in engines.wrappers.values():
        getattr(wrapper, "tally", {}).clear()  # as in a fresh process
    again = generate_replies(engines, systems, contexts(), 2, resume, "fp", chunk_size=4)
    assert again.equals(replies)
    assert engines.format_rates() == rates  # the wrappers' format counts come back with the replies


def test_judges_read_each_turn_in_its_conversation_and_metrics_come_per_split(run, tiny_group, tmp_path):
    cfg, engines, systems, replies, _ = run
    rubrics = {ds: load_rubric(REPO / cfg.label.rubrics[ds]) for ds in cfg.ingest.datasets}
    items = agent_items(replies, contexts(), engines, rubrics)
    agent_turns = replies.filter(pl.col("speaker") != END)
    assert len(items) == agent_turns.height
    second = next(i for i in items if i.candidate_id.startswith("mascot|ed1") and i.candidate_id.endswith("|1"))
    first_text = agent_turns.filter(pl.col("block_id") == second.candidate_id.rsplit("|", 1)[0]).sort("turn")["text"][0]
    assert second.context["history"][-1]["text"] == first_text and len(second.context["history"]) == 2
    items += group_items(replies, contexts(), engines, systems, load_rubric(REPO / cfg.group_label.rubric))
    pairs = pair_items(replies, contexts(), engines, load_rubric(REPO / cfg.evaluate.pairwise_rubric))
    assert len(pairs) == (len(systems) - 1) * 3 * 2 * 2  # every other system × contexts × samples × both orders
    ab = next(p for p in pairs if p.candidate_id == "pair|sft|ed1|0|AB")
    ba = next(p for p in pairs if p.candidate_id == "pair|sft|ed1|0|BA")
    assert ab.pair == ba.pair[::-1] and ab.pair[0][0]["speaker"] in {
        "The Anchor",
        "The Catalyst",
        "The Beacon",
        "Action Guide",
    }
    assert ab.user_template == "judge_pair_user.jinja"
    items += pairs
    judge = JudgeConfig(min_digit_mass=0.0, batch_size=16)  # a random model spreads its mass thin
    judgments, _ = judge_all([judge], items, Prompts(cfg.prompts_dir), RecordStore(tmp_path / "judge.jsonl"),
                             str(tiny_group / "models/base"), cfg.model)  # fmt: skip
    assert (judgments["status"] == "ok").all()
    per_turn, per_reply = judged_scores(judgments, replies, contexts())
    assert per_turn.height == agent_turns.height and per_reply.height == len(systems) * 3 * 2
    assert per_turn["overall"].is_between(0, 100).all() and per_reply["overall"].is_between(0, 100).all()
    metrics = score_metrics(per_turn, "agent") | score_metrics(per_reply, "collective")
    for split in ("negative", "positive", "product", "empathetic_dialogues", "qmsum"):
        for system in ("mascot", "single", "zero_shot"):
            assert f"{split}.{system}.agent.overall" in metrics and f"{split}.{system}.collective.fidelity" in metrics
    assert (
        metrics["negative.mascot.agent.n"]
        == agent_turns.filter((pl.col("system") == "mascot") & pl.col("block_id").str.contains("ed1")).height
    )
    versus = versus_best_baseline(per_turn, "agent", 200, 0.95, 0)
    best = versus["empathetic_dialogues.mascot_vs_best.agent.baseline"]
    assert (
        best not in ("mascot", "mascot_p", "mascot_c")
        and versus["empathetic_dialogues.mascot_vs_best.agent.contexts"] == 2
    )
    assert (
        versus["empathetic_dialogues.mascot_vs_best.agent.ci_low"]
        <= versus["empathetic_dialogues.mascot_vs_best.agent.gain"]
    )
    pairwise = pairwise_metrics(judgments, contexts(), 0.25)
    key = "empathetic_dialogues.mascot_vs.sft"
    assert (
        pairwise[f"{key}.pairs"] == 4 and pairwise[f"{key}.win"] + pairwise[f"{key}.tie"] + pairwise[f"{key}.loss"] == 1
    )
    auto = automatic_metrics(replies, contexts(), load_embedder(), {"empathetic_dialogues": ED, "qmsum": QM})
    # who spoke: the fixed order gives the first three companions a third of the turns each, the fourth none
    assert {p: auto[f"empathetic_dialogues.sft.speakers.{p}"] for p in ED} == {
        **{p: pytest.approx(1 / 3, abs=1e-4) for p in ED[:3]}, "the_action_guide": 0.0}  # fmt: skip
    assert auto["empathetic_dialogues.sft.auto.speaker_entropy"] == pytest.approx(math.log(3) / math.log(4), abs=1e-4)
    assert not any(".single.speakers." in k for k in auto)  # π_SFT's reference speaker is no companion
    assert auto["empathetic_dialogues.mascot.auto.ead_1"] > 0
    assert auto["empathetic_dialogues.single.auto.turns_per_reply"] == 1.0
    assert "empathetic_dialogues.single.auto.redundancy" not in auto  # one turn: nothing to echo
    assert auto["empathetic_dialogues.sft.auto.identifiability_chance"] == pytest.approx(
        1 / 3, abs=1e-4
    )  # 3 speakers in order


def test_pairwise_preference_cancels_the_judges_position_bias():
    """Scores are 1 (A clearly better) … 5 (B clearly better); MASCOT is A in AB and B in BA."""
    ctx = contexts()
    rows = [  # (opponent, context, AB score, BA score)
        ("sft", "ed1", 2.0, 4.0),  # MASCOT preferred in both orders: preference +1 → win
        ("sft", "ed2", 4.0, 4.0),  # the judge just prefers B: preference 0 → tie, bias +1
        ("sft", "qm1", 3.5, 2.0),  # the opponent preferred: preference (−0.5 − 1) / 2 = −0.75 → loss
        ("single", "ed1", 3.0, 3.4),  # preference +0.2 → within the 0.25 tie margin
    ]
    judgments = pl.DataFrame([
        {"candidate_id": f"pair|{o}|{c}|0|{order}", "criterion": "preference", "score": score, "status": "ok"}
        for o, c, ab, ba in rows for order, score in (("AB", ab), ("BA", ba))
    ])  # fmt: skip
    m = pairwise_metrics(judgments, ctx, tie_margin=0.25)
    assert (m["empathetic_dialogues.mascot_vs.sft.win"], m["empathetic_dialogues.mascot_vs.sft.tie"]) == (0.5, 0.5)
    assert m["qmsum.mascot_vs.sft.loss"] == 1.0 and m["empathetic_dialogues.mascot_vs.single.tie"] == 1.0
    # bias per pair: ((AB − 3) + (BA − 3)) / 2 → ed: 0, 1, 0.2 → mean 0.4; qm: (0.5 − 1) / 2 = −0.25
    assert m["empathetic_dialogues.pairwise.position_bias"] == pytest.approx(0.4)
    assert m["qmsum.pairwise.position_bias"] == pytest.approx(-0.25)
