"""The evaluation report: tables from metrics keys, the best value marked, sample conversations,
and the HTML page rendered by headless Chromium to an image kept in build/test-artifacts/."""

from __future__ import annotations

import subprocess

import polars as pl

from mascot.config import FormatRewardConfig
from mascot.eval.report import build_tables, cases, html_page, markdown, mbti_table
from mascot.eval.systems import reference_cards
from mascot.format_reward import ReplyCheck
from mascot.personas import load_cards

from .conftest import ARTIFACTS, REPO, require_chromium

SYSTEMS = ["mascot", "sft", "single"]
METRICS = {
    "negative.mascot.agent.emotion": 70.0, "negative.mascot.agent.emotion_std": 5.0, "negative.mascot.agent.overall": 71.5,
    "negative.sft.agent.emotion": 60.25, "negative.sft.agent.emotion_std": 4.0, "negative.sft.agent.overall": 61.0,
    "negative.mascot.agent.n": 6, "negative.sft.agent.n": 6,
    "negative.mascot.collective.fidelity": 50.0, "negative.sft.collective.fidelity": 55.0,
    "empathetic_dialogues.mascot.auto.ead_1": 0.5, "empathetic_dialogues.sft.auto.ead_1": 0.4,
    "empathetic_dialogues.mascot.auto.redundancy": 0.2, "empathetic_dialogues.sft.auto.redundancy": 0.3,
    "empathetic_dialogues.mascot_vs_best.agent.baseline": "sft", "empathetic_dialogues.mascot_vs_best.agent.gain": 10.5,
    "empathetic_dialogues.mascot_vs_best.agent.ci_low": 2.0, "empathetic_dialogues.mascot_vs_best.agent.ci_high": 19.0,
    "empathetic_dialogues.mascot_vs_best.agent.contexts": 6, "confidence": 0.95,
    "empathetic_dialogues.mascot_vs.sft.win": 0.5, "empathetic_dialogues.mascot_vs.sft.tie": 0.25,
    "empathetic_dialogues.mascot_vs.sft.loss": 0.25, "empathetic_dialogues.mascot_vs.sft.pairs": 4,
    "empathetic_dialogues.pairwise.position_bias": 0.4,
    "empathetic_dialogues.mascot.speakers.the_anchor": 0.75, "empathetic_dialogues.mascot.speakers.the_action_guide": 0.0,
    "empathetic_dialogues.mascot.speakers.the_beacon": 0.25,
    "empathetic_dialogues.mascot.auto.format_pass_rate": 0.9, "empathetic_dialogues.sft.auto.format_pass_rate": 0.8,
}  # fmt: skip


def test_tables_shaped_like_the_papers():
    tables = {t.title: t for t in build_tables(METRICS, SYSTEMS, ["empathetic_dialogues"])}
    assert "Agent-specific metrics — empathetic_dialogues (0–100)" not in tables  # no system measured it
    agent = tables["Agent-specific metrics — negative (0–100)"]
    assert agent.header == ["system", "Emotion", "Overall"]
    assert agent.rows == [["mascot", "70.0 ± 5.0", "71.5"], ["sft", "60.2 ± 4.0", "61.0"]]  # single: not measured
    assert agent.bold == {(0, 1), (0, 2)}  # MASCOT best in both columns
    assert tables["Collective metrics — negative (0–100)"].bold == {(1, 1)}
    auto = tables["Automatic metrics — empathetic_dialogues"]
    assert auto.header[1:3] == ["Reply check", "Median words/turn"]  # read first, beside every other figure
    assert {(0, 1), (0, 4), (0, 6)} <= auto.bold  # more turns pass, more distinct words, less redundancy (lower wins)
    pairwise = tables["MASCOT against each system, pairwise (judge, both orders)"]
    assert pairwise.rows == [["empathetic_dialogues", "sft", "50%", "25%", "25%", "4"]] and "+0.40" in pairwise.note
    spoke = tables["Who spoke — empathetic_dialogues (share of turns)"]  # a companion never named shows 0 %
    assert spoke.header == ["system", "the_anchor", "the_action_guide", "the_beacon"]
    assert spoke.rows == [["mascot", "75%", "0%", "25%"]]
    versus = tables["MASCOT against the best baseline (overall, 0–100)"]
    assert versus.rows == [["empathetic_dialogues", "agent", "sft", "+10.5", "[+2.0, +19.0]", "6", "better"]]


def test_no_better_verdict_for_mascot_when_its_replies_fail_the_reply_check_more_often():
    worse = METRICS | {"empathetic_dialogues.mascot.auto.format_pass_rate": 0.5}
    versus = {t.title: t for t in build_tables(worse, SYSTEMS, ["empathetic_dialogues"])}[
        "MASCOT against the best baseline (overall, 0–100)"
    ]
    assert versus.rows[0][-1] == "no verdict: reply check 50% against 80%"
    unmeasured = {k: v for k, v in METRICS.items() if not k.endswith("format_pass_rate")}
    versus = {t.title: t for t in build_tables(unmeasured, SYSTEMS, ["empathetic_dialogues"])}[
        "MASCOT against the best baseline (overall, 0–100)"
    ]
    assert versus.rows[0][-1] == "no verdict: reply check not measured"


def test_sample_conversations_mark_the_turns_that_fail_the_reply_check():
    replies, contexts = replies_and_contexts()
    replies = replies.with_columns(
        text=pl.when(pl.col("turn") == 1).then(pl.lit("The Beacon: The Beacon:")).otherwise(pl.col("text"))
    )
    cards = load_cards(REPO / "configs/personas")
    for card in reference_cards().values():
        cards.add(card.name, card)
    check = ReplyCheck(FormatRewardConfig(), cards, {"empathetic_dialogues": ["the_anchor", "the_beacon"]})
    display = {"the_anchor": "The Anchor", "the_beacon": "The Beacon", "reference_listener": "the listener"}
    [case] = cases(replies, contexts, display, SYSTEMS, 3, check)
    (_, _, ok), (_, _, failed) = case.replies["mascot"]
    assert ok is None and "no_speaker_tag" in failed
    md = markdown("MASCOT evaluation", "intro", [], [case])
    assert "- *The Anchor:* I'm so sorry.\n" in md and "⚠ *fails the reply check: no_speaker_tag" in md
    assert "<span class='flag'>⚠ fails the reply check: no_speaker_tag" in html_page("x", "y", [], [case])


def replies_and_contexts():
    contexts = pl.DataFrame([
        {"context_id": "c1", "dataset": "empathetic_dialogues", "split": "valid", "domain": "negative", "emotion": "sad",
         "situation": "My dog died.", "query": None, "history": [{"speaker": "user", "text": "My dog died <today>."}]},
    ])  # fmt: skip
    rows = []
    for system, turns in {"mascot": [("the_anchor", "I'm so sorry."), ("the_beacon", "He had a good life.")],
                          "single": [("reference_listener", "That is sad.")]}.items():  # fmt: skip
        for i, (speaker, text) in enumerate(turns):
            rows.append({"system": system, "block_id": f"{system}|c1|group|0", "context_id": "c1", "sample_idx": 0,
                         "turn": i, "speaker": speaker, "text": text})  # fmt: skip
    return pl.DataFrame(rows), contexts


def heatmap_table():
    cells = pl.DataFrame({"type": ["INTJ", "INTJ", "ESFP"], "agent": ["The Anchor", "The Beacon", "The Anchor"],
                          "overall": [80.0, 40.0, 60.0], "turns": [3, 1, 2]})  # fmt: skip
    return mbti_table(cells, {"INTJ.overall": 70.0, "ESFP.overall": 60.0, "types_spread.overall": 10.0}, "mascot")


def test_the_mbti_heatmap_table_shades_cells_from_lowest_to_highest():
    t = heatmap_table()
    assert t.header == ["Type", "The Anchor", "The Beacon", "All agents"]
    assert t.rows == [["ESFP", "60.0 (2)", "–", "60.0"], ["INTJ", "80.0 (3)", "40.0 (1)", "70.0"]]
    assert t.heat == {(0, 1): 0.5, (1, 1): 1.0, (1, 2): 0.0}
    page = html_page("x", "y", [t], [])
    assert "<td style='background:rgba(37,99,235,0.68)'>80.0 (3)</td>" in page and "<td>–</td>" in page


def test_sample_conversations_side_by_side_render_to_an_image(tmp_path):
    replies, contexts = replies_and_contexts()
    display = {"the_anchor": "The Anchor", "the_beacon": "The Beacon", "reference_listener": "the listener"}
    case_list = cases(replies, contexts, display, SYSTEMS, 3)
    assert len(case_list) == 1 and case_list[0].replies == {
        "mascot": [("The Anchor", "I'm so sorry.", None), ("The Beacon", "He had a good life.", None)],
        "single": [("the listener", "That is sad.", None)],
    }
    tables = build_tables(METRICS, SYSTEMS, ["empathetic_dialogues"]) + [heatmap_table()]
    md = markdown("MASCOT evaluation", "intro", tables, case_list)
    assert "| mascot | **70.0 ± 5.0** | **71.5** |" in md and "- *The Beacon:* He had a good life." in md
    page = html_page("MASCOT evaluation", "intro", tables, case_list)
    assert "My dog died &lt;today&gt;." in page  # text is escaped, never markup
    chromium, _ = require_chromium()
    path = tmp_path / "eval.html"
    path.write_text(page, encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1400",
                    f"--screenshot={shot}", path.as_uri()], check=True, capture_output=True, timeout=120)  # fmt: skip
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_the_training_table_says_whether_each_gains_interval_clears_zero():
    from mascot.eval.report import training_table

    agents = {
        "format_reward_before": 0.958,
        "format_reward_after": 0.976,
        "format_reward_gain_ci_low": 0.002,
        "format_reward_gain_ci_high": 0.038,
        "format_pass_rate_before": 0.79,
        "format_pass_rate_after": 0.86,
        "format_pass_rate_gain_ci_low": -0.014,
        "format_pass_rate_gain_ci_high": 0.153,
        "check_replies": 72,
    }
    director = {
        "group_rm_before": -0.5,
        "group_rm_after": -0.6,
        "group_rm_gain_ci_low": -0.25,
        "group_rm_gain_ci_high": -0.01,
        "instruction_own_card_before": 0.17,
        "instruction_own_card_after": 0.22,
    }
    rows = {r[0]: r[1:] for r in training_table(agents, director).rows}  # fmt: skip
    assert rows["Agents (GRPO): format reward"] == ["0.958", "0.976", "+0.018 [+0.002, +0.038]", "above zero"]
    assert rows["Agents: reply check pass rate"][3] == "includes zero"
    assert rows["Director (GRPO): group reward model"][3] == "below zero"
    assert rows["Director: instructions from the named companion's card"] == ["0.170", "0.220", "+0.050", "–"]
    assert "Agents: persona reward model" not in rows  # not in the metrics: no row rather than a blank one
    assert training_table({}, {}) is None
