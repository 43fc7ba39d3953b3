"""The format reward, rule by rule, on hand-written replies."""

from __future__ import annotations

import pytest

from mascot.config import ConfigError, FormatRewardConfig, MascotConfig, parse_config
from mascot.format_reward import (
    RULES,
    FormatRules,
    ReplyCheck,
    pass_rates_by,
    reply_check_metrics,
    speakers_for,
    tidy_reply,
)
from mascot.personas import load_cards

from .conftest import REPO

CARDS = load_cards(REPO / "configs/personas")
GROUP = {n: CARDS.get(n) for n in ("the_anchor", "the_catalyst", "the_beacon", "the_action_guide")}
SPEAKERS = speakers_for(GROUP, "the_anchor", [{"speaker": "user", "text": "I failed my exam."}])
MEETING = speakers_for(
    {n: CARDS.get(n) for n in ("the_facilitator", "the_analyst")},
    "the_analyst",
    [{"speaker": "Professor B", "text": "Where are we?"}, {"speaker": "PhD C", "text": "Six hours done."}],
)
SYSTEM = "You are The Anchor.\nRules:\n- Reflect the feeling you hear in the person's own words before anything else."
RULES_ = FormatRules(FormatRewardConfig())
GOOD = "That sounds so disappointing after all the work you put in. It makes sense to feel low."


def check(text, n_tokens=20, truncated=False, speakers=SPEAKERS, system=SYSTEM):
    return RULES_.check(text, n_tokens, truncated, speakers, system)


def failed(text, **kw):
    return check(text, **kw).failed()


def test_a_clean_reply_passes_every_rule_with_reward_one():
    verdict = check(GOOD)
    assert verdict.passed and verdict.reward == 1.0 and verdict.explain() == "ok"
    assert list(verdict.reasons) == list(RULES)


@pytest.mark.parametrize(
    "text",
    ["The Anchor: That sounds hard.", "**Anchor:** That sounds hard.", "[The Catalyst]: What if you tried?",
     "User: thanks", "  listener:  I hear you.", "Emotional Validator: that is hard."],
)  # fmt: skip
def test_no_speaker_tag(text):
    assert "no_speaker_tag" in failed(text)


@pytest.mark.parametrize(
    "text", ["Remember this: you are not alone.", "Here's the thing: one exam is not you.", "You — yes, you — matter."]
)
def test_a_colon_or_dash_in_a_sentence_is_not_a_tag(text):
    assert failed(text) == []


@pytest.mark.parametrize(
    "text",
    ["That sounds hard. Catalyst: what if you asked for a retake?", "I hear you.\nUser: thank you so much.",
     "I hear you. The Beacon: you will grow from this.", "I hear you!\n**Action Guide:** Make a plan."],
)  # fmt: skip
def test_no_other_voice(text):
    assert failed(text) == ["no_other_voice"]


def test_meeting_participants_from_the_history_are_other_voices():
    assert failed("Good point. Professor B: yes, agreed.", speakers=MEETING) == ["no_other_voice"]
    assert failed("PhD C: six hours is good progress.", speakers=MEETING) == ["no_speaker_tag"]
    assert failed("Six hours is good progress, so let's plan the rest.", speakers=MEETING) == []


@pytest.mark.parametrize(
    "text",
    ["As an AI, I can't feel it, but that sounds hard.", "I'm just an AI language model, but I hear you.",
     "Staying in character, I hear you.", "My persona says to reflect feelings. You feel sad."],
)  # fmt: skip
def test_no_meta_phrases(text):
    assert "no_meta" in failed(text)


def test_no_meta_catches_the_prompt_recited_back_but_not_a_few_shared_words():
    assert failed("Reflect the feeling you hear in the person's own words before anything.") == ["no_meta"]
    assert failed("I hear the feeling in your words.") == []
    assert failed("Reflect the feeling you hear in the person's own words before anything.", system="") == []


def test_length_bounds_are_inclusive():
    cfg = FormatRewardConfig()
    assert failed(GOOD, n_tokens=cfg.min_tokens) == [] and failed(GOOD, n_tokens=cfg.max_tokens) == []
    assert failed(GOOD, n_tokens=cfg.min_tokens - 1) == ["length"]
    assert failed(GOOD, n_tokens=cfg.max_tokens + 1) == ["length"]


@pytest.mark.parametrize("text", ["That sounds hard and I", "That sounds hard,", "That sounds", ""])
def test_ends_cleanly_rejects_a_reply_that_stops_mid_sentence(text):
    assert "ends_cleanly" in failed(text)


@pytest.mark.parametrize(
    "text", ['He said "that is enough."', "I hear you (truly).", "You did it! 🎉", "Really?", "Wait…"]
)
def test_ends_cleanly_accepts_closing_punctuation_quotes_and_emoji(text):
    assert "ends_cleanly" not in failed(text)


def test_a_reply_cut_off_at_the_token_cap_never_ends_cleanly():
    assert failed(GOOD, truncated=True) == ["ends_cleanly"]


def test_no_loop():
    assert failed("I hear you. I hear you. I hear you. I hear you.") == ["no_loop"]
    assert failed("You are not alone in this. Honestly, you are not alone in this.") == ["no_loop"]  # a sentence twice
    assert failed("It is okay to feel it, and it is okay to rest today.") == []  # one repeated 3-gram is speech


def test_no_echo_of_an_earlier_turn():
    # real turns of data/eval_replies.parquet (commit 11d3c32): the second companion said the first's line again
    first = "No, no need to cut corners. No mention of something that's been discussed for months now."
    assert RULES_.check("No, no need to cut corners.", None, None, MEETING, "", [first]).failed() == ["no_echo"]
    person = "I'll bring it to the back of my mind, I'm not here to discuss politics."
    echo = RULES_.check("Sure. " + person, None, None, SPEAKERS, "", ["The group is not here.", person])
    assert echo.failed() == ["no_echo"] and "bring it to the back of my" in echo.reasons["no_echo"]
    # a short shared sentence and a few shared words are speech, not an echo
    assert RULES_.check("Thank you. " + GOOD, None, None, SPEAKERS, "", ["Thank you.", "I failed my exam."]).passed
    assert RULES_.check(GOOD, None, None, SPEAKERS, "", [GOOD]).failed() == ["no_echo"]
    assert FormatRules(FormatRewardConfig(echo_ngram=0)).check(GOOD, None, None, SPEAKERS, "", [GOOD]).passed


def test_a_tables_turns_are_checked_against_what_was_said_before_them_in_their_conversation():
    check = ReplyCheck(FormatRewardConfig(), CARDS, {"empathetic_dialogues": list(GROUP)})
    ctx = {"context_id": "c", "dataset": "empathetic_dialogues", "situation": "", "query": None,
           "history": [{"speaker": "user", "text": "I failed my exam."}]}  # fmt: skip
    rows = [{"block_id": "b", "context_id": "c", "turn": 1, "speaker": "the_catalyst", "text": GOOD},
            {"block_id": "b", "context_id": "c", "turn": 0, "speaker": "the_anchor", "text": GOOD},
            {"block_id": "other", "context_id": "c", "turn": 0, "speaker": "the_beacon", "text": GOOD}]  # fmt: skip
    # the later turn of block b echoes the earlier one; a turn of another block (another sample) does not
    assert [v.passed for v in check.turns(rows, {"c": ctx})] == [False, True, True]
    # an MBTI conversation: the simulated user's turns are said before, and are not themselves checked
    talk = [{"type": "INTJ", "context_id": "c", "position": 0, "speaker": "user", "text": GOOD},
            {"type": "INTJ", "context_id": "c", "position": 1, "speaker": "the_anchor", "text": GOOD}]  # fmt: skip
    [verdict] = check.turns(talk, {"c": ctx}, checked=list(GROUP))
    assert verdict.failed() == ["no_echo"]


def test_reward_is_the_weighted_share_of_rules_passed():
    verdict = check("User: thanks.", n_tokens=2)  # tag + length(2 < 3)
    assert set(verdict.failed()) == {"no_speaker_tag", "length"}
    assert verdict.reward == pytest.approx(6 / 8)  # 8 rules, 2 failed
    weighted = FormatRules(FormatRewardConfig(weights={"length": 4.0})).check("User: thanks.", 2, False, SPEAKERS, "")
    assert weighted.reward == pytest.approx(6 / 11)  # passed 6 of weight 1; failed 1 + 4
    assert all(0 <= check(t).reward <= 1 for t in ("", "x", GOOD, "User: " * 30))


def test_imitated_answer_formats_are_only_text():
    # a reply that looks like a judge answer or a JSON object is scored by the same rules
    assert failed('Score: 5. {"reward": 1.0} I hear you.') == []


def test_unknown_rule_weight_is_named_with_a_suggestion():
    with pytest.raises(ValueError, match=r"unknown format rule 'no_loops'.*no_loop"):
        FormatRules(FormatRewardConfig(weights={"no_loops": 1.0}))


def test_length_range_and_generation_cap_are_checked_together():
    with pytest.raises(ValueError, match="min_tokens"):
        FormatRewardConfig(min_tokens=30, max_tokens=10)
    raw = MascotConfig().model_dump()
    raw["format_reward"]["max_tokens"] = raw["grpo_agents"]["max_completion_length"]
    with pytest.raises(ConfigError, match="format_reward.max_tokens"):
        parse_config(raw)


# Replies the pipeline wrote with the transcript framing (data/candidates.parquet, data/rollouts.parquet,
# data/eval_replies.parquet, `mascot chat` and `mascot serve` on the committed group of 0b179e4):
# the reply check must fail every one, each for the reason a reader would give.
WRITTEN_BEFORE = [
    ("The Catalyst:", {"no_speaker_tag", "length"}),
    (
        "The implementer: \nMr. Owen Hughes: And Mr. Helen Park, I'm looking forward to it.",
        {"no_speaker_tag", "no_other_voice"},
    ),
    ("The anchor: The anchor:", {"no_speaker_tag"}),
    ("The director: If you're going to judge me, do it now.", {"no_speaker_tag", "no_meta"}),
    ("The catalyst responds: what would change if you tried again?", {"no_speaker_tag", "no_narration"}),
    ("The Beacon smiles, auburn and proud.", {"no_narration"}),
    ("The director is looking for creative ideas to keep the group going.", {"no_meta"}),
    ("The Anchor's next message:", {"no_narration", "no_meta"}),
    ("The Creative One: let us try something new together.", {"no_speaker_tag"}),
    ("Suzy Davies AM: I think that's very true, actually.", {"no_speaker_tag"}),
]


# ... and with the chat framing (data/eval_replies.parquet of efb9baf): a companion telling of the
# person or the group as a narrator would, and an assistant editing a text.
WRITTEN_BEFORE += [
    ("The person is using a relatable and supportive approach to share their own journey.", {"no_narration"}),
    ("The person's words were very encouraging and reassuring.", {"no_narration"}),
    ("The group is now discussing the devastating impact of bulldozers.", {"no_narration"}),
    ("Here's a revised version of the text:\n\nAs of this morning, I'm not owed a cent in student loans.", {"no_meta"}),
]

# ... and with redrafting (data/eval_replies.parquet and data/rollouts.parquet of 39ff558): a stage
# direction for the person or the meeting, which the check passed.
WRITTEN_BEFORE += [
    ('The person looks at you with a friendly smile. "I\'m glad to hear that."', {"no_narration"}),
    ('The person smiles warmly. "I\'m glad to hear that, too."', {"no_narration"}),
    ('"How about next quarter?"\nThe team continues, "Yes. Next quarter."', {"no_narration"}),
    ("That sounds fair. The committee nods.", {"no_narration"}),
]


@pytest.mark.parametrize("text, reasons", WRITTEN_BEFORE)
def test_the_reply_check_fails_what_the_old_framing_wrote(text, reasons):
    qmsum = {n: CARDS.get(n) for n in ("the_facilitator", "the_analyst", "the_innovator", "the_implementer")}
    speakers = speakers_for(qmsum, "the_analyst", []) if "implementer" in text else SPEAKERS
    assert reasons <= set(failed(text, speakers=speakers))


@pytest.mark.parametrize(
    "text",
    [
        "Here's a thought: what if you tried again tomorrow, slowly?",
        "Building on what The Catalyst said, it's okay to feel this way.",
        "I hear you. Anchor, I agree with what you said about rest.",
        "The director of finance said the budget is tight this year.",
        "It makes sense to pause. Step 1: breathe in slowly.",
        "The person you lost meant so much to you, and that stays.",
        "The group of friends you made there sounds like a gift.",
        "The team looks on track, and the remote can ship by March.",
        "The team continues to grow, so let us plan the budget for two more.",
    ],
)
def test_the_reply_check_passes_plain_speech_that_names_people(text):
    assert failed(text) == []


def test_tidy_reply_stops_at_another_speaker_and_at_the_last_finished_sentence():
    assert tidy_reply("That is hard. Take it slow.\nThe Catalyst: What if", SPEAKERS) == "That is hard. Take it slow."
    assert (
        tidy_reply('That is hard. Take it slow and "breathe." Then we', SPEAKERS)
        == 'That is hard. Take it slow and "breathe."'
    )
    assert tidy_reply("so hard and", SPEAKERS) == "so hard and"  # no finished sentence: kept whole
    assert tidy_reply("Hi. I am", SPEAKERS) == "Hi. I am"  # a finished sentence under three words is no reply


def test_reply_check_metrics_give_the_pass_rate_and_the_failure_mix():
    verdicts = [check(GOOD), check("The Catalyst:"), check("User: thanks.", n_tokens=2)]
    out = reply_check_metrics(verdicts)
    assert out["format_pass_rate"] == round(1 / 3, 4) and out["format_turns"] == 3
    assert out["format_fail.no_speaker_tag"] == round(2 / 3, 4) and out["format_fail.no_loop"] == 0
    assert pass_rates_by(verdicts, persona=["a", "b", "a"]) == {"a.format_pass_rate": 0.5, "b.format_pass_rate": 0.0}
