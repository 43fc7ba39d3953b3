"""The director's directive format, its fallback, and the group engine end to end on a tiny model."""

from __future__ import annotations

import pytest

from mascot.chat.directive import (
    END,
    FALLBACK_INSTRUCTION,
    Directive,
    borrowed_rule,
    eligible_speakers,
    fallback,
    parse_directive,
    rotated,
)
from mascot.chat.engine import EngineSettings, GroupEngine, TokenEvent, group_names
from mascot.chat.state import ConversationState, first_sentence
from mascot.config import FormatRewardConfig
from mascot.format_reward import FormatRules
from mascot.llm import Generation, SamplingParams, get_backend
from mascot.personas import load_cards
from mascot.prompts import Prompts

from .conftest import REPO

pytestmark = pytest.mark.usefixtures("one_thread")
CARDS = load_cards(REPO / "configs/personas")
GROUP = ["the_anchor", "the_catalyst", "the_beacon", "the_action_guide"]
NAMES = group_names(CARDS, GROUP)
C1_ORDER = ["the_beacon", "the_action_guide", "the_anchor", "the_catalyst"]  # the speaking order of context c1
CONTEXT = {
    "context_id": "c1", "dataset": "empathetic_dialogues", "domain": "negative", "emotion": "devastated",
    "situation": "I failed my driving test for the third time.", "query": None,
    "history": [{"speaker": "user", "text": "I failed my driving test again. Third time."}],
}  # fmt: skip


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    "text, speaker, instruction",
    [
        ("Speaker: the_catalyst\nInstruction: Ask what went wrong this time.", "the_catalyst", "Ask what went wrong this time."),
        ("  Speaker: The Anchor  \n  Instruction:  Name the disappointment.  \n", "the_anchor", "Name the disappointment."),
        ("Speaker: **action guide**\nInstruction: Suggest one concrete step.", "the_action_guide", "Suggest one concrete step."),
        ("Speaker: END", END, ""),
        ("Speaker: end\nInstruction: the reply is complete", END, "the reply is complete"),
    ],
)  # fmt: skip
def test_valid_directives(text, speaker, instruction):
    d = parse_directive(text, NAMES)
    assert d.valid and (d.speaker, d.instruction) == (speaker, instruction)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("The Anchor should speak next.", "not the two lines"),
        ("Speaker: the_anchor", "empty instruction"),
        ("Speaker: the_anker\nInstruction: Validate.", "unknown speaker 'the_anker'"),
        ("Speaker: user\nInstruction: Say thanks.", "unknown speaker 'user'"),
        ("Sure! Speaker: the_anchor\nInstruction: Validate.", "not the two lines"),
        ("Speaker: the_anchor\nInstruction: Validate.\nSpeaker: the_beacon\nInstruction: Cheer.", "not the two lines"),
        ("Speaker: the_anchor\nInstruction: " + "x" * 500, "longer than 400"),
        # the template's list of names copied into the instruction (what a 135M director writes)
        ("Speaker: the_anchor\nInstruction: the_catalyst", "the instruction names a speaker"),
        ("Speaker: the_anchor\nInstruction: END", "the instruction names a speaker"),
        ("Speaker: the_beacon\nInstruction: The Beacon.", "the instruction names a speaker"),
        ("", "not the two lines"),
    ],
)
def test_invalid_directives_say_why(text, problem):
    d = parse_directive(text, NAMES)
    assert not d.valid and problem in d.problem


def test_fallback_picks_who_spoke_least_in_group_order():
    assert fallback(GROUP, {}).speaker == "the_anchor"
    d = fallback(GROUP, {"the_anchor": 1, "the_catalyst": 1, "the_beacon": 0, "the_action_guide": 0}, problem="bad")
    assert (d.speaker, d.instruction, d.valid, d.problem) == ("the_beacon", FALLBACK_INSTRUCTION, False, "bad")
    assert parse_directive(d.render(), NAMES).speaker == "the_beacon"


@pytest.mark.parametrize(
    "rule, spoken, allowed",
    [
        ("least_spoken", [], GROUP),
        ("least_spoken", ["the_beacon", "the_anchor"], ["the_catalyst", "the_action_guide"]),
        ("least_spoken", GROUP, GROUP),  # everyone spoke once: a new round
        ("not_last", ["the_beacon", "the_anchor"], ["the_catalyst", "the_beacon", "the_action_guide"]),
        ("any", ["the_beacon", "the_beacon"], GROUP),
    ],
)
def test_the_speaker_rule_says_who_may_be_named_next(rule, spoken, allowed):
    assert eligible_speakers(GROUP, spoken, rule) == allowed


def test_the_speaking_order_is_fixed_per_conversation_and_starts_anywhere():
    assert rotated(GROUP, "c1") == rotated(GROUP, "c1") == C1_ORDER and sorted(C1_ORDER) == sorted(GROUP)
    firsts = {rotated(GROUP, f"ctx{i}")[0] for i in range(40)}
    assert firsts == set(GROUP)  # across conversations every companion leads (and none is always last)
    for i in range(10):  # a rotation of the group's order, not a shuffle
        r = rotated(GROUP, f"ctx{i}")
        k = GROUP.index(r[0])
        assert r == GROUP[k:] + GROUP[:k]


def test_the_director_reads_who_was_left_out_of_earlier_replies_first(backend):
    # one fixed order per chat left its last companion out of every reply of a 135M director
    engine = GroupEngine(backend, CARDS, Prompts(REPO / "configs/prompts"), SETTINGS)
    state = ConversationState.start(CONTEXT, GROUP, NAMES)
    for persona in C1_ORDER[:3]:
        state.add_agent(persona, "Hm.", None)
    assert engine.speaking_order(state) == C1_ORDER  # within a reply the order stays put
    state.add_user("Thanks.")
    assert engine.speaking_order(state) == [C1_ORDER[3], *C1_ORDER[:3]]
    assert (
        "Speaker: <" + " | ".join([C1_ORDER[3], *C1_ORDER[:3]]) + ">" in engine.director_messages(state)[-1]["content"]
    )


def test_fallback_ties_go_to_who_spoke_least_in_the_whole_conversation(backend):
    engine = GroupEngine(backend, CARDS, Prompts(REPO / "configs/prompts"), SETTINGS)
    state = ConversationState.start(CONTEXT, GROUP, NAMES)
    for persona in ("the_anchor", "the_catalyst", "the_anchor"):
        state.add_agent(persona, "Hm.", None)
    state.add_user("Thanks.")  # a new reply: nobody has spoken in it, the_beacon and the_action_guide not at all
    first, second = [n for n in C1_ORDER if n in ("the_beacon", "the_action_guide")]  # ties: the rotated order
    assert engine.fallback(state, "bad").speaker == first
    state.add_agent(first, "Hm.", None)
    assert engine.fallback(state, "bad").speaker == second  # then the other silent one, before the_catalyst


def test_state_keeps_history_counts_and_an_extractive_record():
    state = ConversationState.start(CONTEXT, GROUP, NAMES)
    assert state.turns_per_agent() == dict.fromkeys(GROUP, 0) and state.reply_start == 1
    state.add_agent("the_anchor", "That must sting. Three times is a lot to carry.", Directive("the_anchor", "x"))
    state.add_agent("the_catalyst", "What felt different this time?", None)
    assert state.record == ["The Anchor: That must sting.", "The Catalyst: What felt different this time?"]
    assert state.as_history()[1] == {
        "speaker": "The Anchor", "text": "That must sting. Three times is a lot to carry.", "role": "agent"
    }  # fmt: skip
    state.add_user("The parking, again.")
    assert state.spoken_this_reply() == dict.fromkeys(GROUP, 0) and state.turns_per_agent()["the_anchor"] == 1
    with pytest.raises(ValueError, match="not in this group"):
        state.add_agent("the_analyst", "hm", None)
    assert first_sentence("one two three four", words=2) == "one two …"


# ------------------------------------------------------------------ the engine


class Scripted:
    """A backend that answers from a script and records every call (for the director's choices)."""

    name, model_name = "scripted", "scripted"

    def __init__(self, inner, director_script: list[str]):
        self.inner, self.script, self.calls, self.seeds = inner, list(director_script), [], []

    def count_tokens(self, messages):
        return self.inner.count_tokens(messages)

    def generate(self, prompts, params, seeds, adapter=None):
        self.calls.append((adapter, prompts))
        self.seeds.append((adapter, list(seeds)))
        if adapter == "director":
            return [Generation(self.script.pop(0), "", 5, "stop") for _ in prompts]
        return self.inner.generate(prompts, params, seeds, adapter)


@pytest.fixture(scope="module")
def backend(tiny_model):
    return get_backend("transformers")(tiny_model, device="cpu", batch_size=8)


SETTINGS = EngineSettings(
    max_turns=3, max_prompt_tokens=1024,
    agent=SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=6),
    director=SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=6), director_attempts=1,
)  # fmt: skip


def test_directed_reply_follows_valid_directives_and_falls_back_on_invalid_ones(backend):
    script = ["Speaker: the_catalyst\nInstruction: Ask one question.", "Speaker: the_catalist\nInstruction: x",
              "Speaker: END"]  # fmt: skip
    scripted = Scripted(backend, script)
    engine = GroupEngine(scripted, CARDS, Prompts(REPO / "configs/prompts"), SETTINGS, director_adapter="director")
    state = ConversationState.start(CONTEXT, GROUP, NAMES)
    assert engine.speaking_order(state) == C1_ORDER
    [log] = engine.reply([state])
    # turn 1 as directed; turn 2 invalid → fallback to who spoke least, first in c1's order; turn 3 END
    assert [t.speaker for t in state.agent_turns] == ["the_catalyst", "the_beacon"]
    assert log.invalid == 1 and log.ended_by_director and log.directives[-1].ends
    assert "unknown speaker 'the_catalist'" in log.directives[1].problem
    director_prompt = scripted.calls[0][1][0]
    system, user = director_prompt[0]["content"], director_prompt[-1]["content"]
    assert "Speaker: <the_beacon | the_action_guide | the_anchor | the_catalyst>" in user  # no END before a turn
    # then only who the speaker rule offers (nobody twice before everyone once), and END
    assert "Speaker: <the_beacon | the_action_guide | the_anchor | END>" in scripted.calls[2][1][0][-1]["content"]
    assert system.index("- the_beacon:") < system.index("- the_action_guide:") < system.index("- the_anchor:")
    # the director reads each companion's role, not the whole card (that is the agent's prompt)
    assert "- the_catalyst: The Catalyst, the Critical Thinker." in system
    assert CARDS.get("the_catalyst").description not in system
    # the agent saw its card and the director's instruction in its system message, and the
    # conversation as chat turns: the person's words as user turns, no transcript, no director
    agent_prompt = scripted.calls[1][1][0]
    assert (
        "You are The Catalyst" in agent_prompt[0]["content"] and "Now: Ask one question." in agent_prompt[0]["content"]
    )
    assert [m["role"] for m in agent_prompt[1:]] == ["user"] * len(CONTEXT["history"])
    assert [m["content"] for m in agent_prompt[1:]] == [t["text"] for t in CONTEXT["history"]]
    assert not any("director" in m["content"].lower() for m in agent_prompt[1:])
    # the second director call saw what was covered and the turn counts
    second = scripted.calls[2][1][0][1]["content"]
    assert "- The Catalyst: " in second and "The Catalyst 1" in second and "(2 left)" in second


def test_end_before_anyone_spoke_is_invalid_and_the_budget_caps_the_reply(backend):
    scripted = Scripted(backend, ["Speaker: END"] + ["Speaker: the_anchor\nInstruction: Cheer."] * 5)
    engine = GroupEngine(scripted, CARDS, Prompts(REPO / "configs/prompts"), SETTINGS, director_adapter="director")
    state = ConversationState.start(CONTEXT, GROUP, NAMES)
    [log] = engine.reply([state])
    # END first: the fallback speaks (first in c1's order); the_anchor twice: the second is refused by the rule
    assert [t.speaker for t in state.agent_turns] == ["the_beacon", "the_anchor", "the_action_guide"]
    assert log.invalid == 2 and "END before any companion" in log.directives[0].problem
    assert (
        "the_anchor may not speak now (speaker_rule least_spoken: the_action_guide, the_catalyst)"
        in log.directives[2].problem
    )
    assert not log.ended_by_director and len(state.agent_turns) == SETTINGS.max_turns


def test_a_refused_directive_is_asked_again_before_the_fallback_decides(backend):
    # conversation 1: refused once, then valid; conversation 2: refused three times → the fallback
    script = ["hmm", "Speaker: the_catalyst\nInstruction: Ask one question.", "Speaker: the_beacon\nInstruction: x",
              "Speaker: the_catalist\nInstruction: x", "nope", "Speaker: END"]  # fmt: skip
    scripted = Scripted(backend, script)
    settings = EngineSettings(**{**SETTINGS.__dict__, "max_turns": 1, "director_attempts": 3})
    engine = GroupEngine(scripted, CARDS, Prompts(REPO / "configs/prompts"), settings, director_adapter="director")
    states = [ConversationState.start(CONTEXT, GROUP, NAMES) for _ in range(2)]
    logs = engine.reply(states, keys=["a", "b"])
    [director_call] = [prompts for adapter, prompts in scripted.calls if adapter == "director"]
    # every attempt in one call (the rows of a prompt share its prompt pass), read in order
    assert len(director_call) == 6 and director_call[:3] == [director_call[0]] * 3
    assert logs[0].directives[0].speaker == "the_catalyst" and logs[0].directives[0].valid
    assert logs[0].attempts == [2] and logs[0].raw == [script[1]] and logs[0].invalid == 0  # the third never read
    # every sample refused (the last an END before anyone spoke): the counted fallback, with the last problem
    assert logs[1].attempts == [3] and logs[1].invalid == 1 and logs[1].raw == ["Speaker: END"]
    assert "END before any companion" in logs[1].directives[0].problem
    assert [s.agent_turns[0].speaker for s in states] == ["the_catalyst", "the_beacon"]
    seeds = [seed for adapter, seeds in scripted.seeds if adapter == "director" for seed in seeds]
    assert len(set(seeds)) == len(seeds)  # every retry is a new sample


def test_with_any_speaker_the_director_may_name_one_companion_again(backend):
    scripted = Scripted(backend, ["Speaker: the_beacon\nInstruction: Cheer."] * 3)
    settings = EngineSettings(**{**SETTINGS.__dict__, "speaker_rule": "any"})
    engine = GroupEngine(scripted, CARDS, Prompts(REPO / "configs/prompts"), settings, director_adapter="director")
    state = ConversationState.start(CONTEXT, GROUP, NAMES)
    [log] = engine.reply([state])
    assert [t.speaker for t in state.agent_turns] == ["the_beacon"] * 3 and log.invalid == 0


def test_fixed_and_random_orders_need_no_director_and_are_seeded(backend):
    prompts = Prompts(REPO / "configs/prompts")
    fixed = ConversationState.start(CONTEXT, GROUP, NAMES)
    GroupEngine(backend, CARDS, prompts, SETTINGS, order="fixed").reply([fixed])
    assert [t.speaker for t in fixed.agent_turns] == GROUP[:3]
    runs = []
    for _ in range(2):
        states = [ConversationState.start(CONTEXT, GROUP, NAMES) for _ in range(4)]
        GroupEngine(backend, CARDS, prompts, SETTINGS, order="random").reply(states, keys=["a", "b", "c", "d"])
        runs.append([[(t.speaker, t.text) for t in s.agent_turns] for s in states])
    assert runs[0] == runs[1]  # same keys, same conversation
    assert len({tuple(sp for sp, _ in conv) for conv in runs[0]}) > 1  # different keys, different orders


def test_long_conversations_are_trimmed_to_the_prompt_budget(backend):
    long_context = {
        **CONTEXT,
        "history": [{"speaker": "user", "text": f"Turn {i}: " + "so much to say " * 20} for i in range(30)],
    }
    settings = EngineSettings(max_turns=2, max_prompt_tokens=1000, agent=SETTINGS.agent, director=SETTINGS.director)
    engine = GroupEngine(backend, CARDS, Prompts(REPO / "configs/prompts"), settings, order="fixed")
    state = ConversationState.start(long_context, GROUP, NAMES)
    engine.reply([state])
    messages = engine.agent_messages(state, "the_beacon", Directive("the_beacon", "Cheer."))
    assert backend.count_tokens(messages) <= 1000
    chat = "\n".join(m["content"] for m in messages[1:])
    assert "Turn 29:" in chat and "Turn 0:" not in chat
    assert backend.count_tokens(engine.director_messages(state)) <= 1000


# ------------------------------------------------------------------ what the director may hand out


def test_an_instruction_copied_from_another_companions_card_is_refused(backend):
    # a 135M director handed the Facilitator's rule to the emotional-support group and the Anchor's
    # "Do not give advice" to the Action Guide; the companions answered by narrating the person
    rules = {n: CARDS.get(n).rules for n in CARDS}
    anchor_rule = CARDS.get("the_anchor").rules[2]
    assert borrowed_rule("the_catalyst", "Do not argue for a position yourself.", rules) == "the_facilitator"
    assert borrowed_rule("the_action_guide", anchor_rule, rules) == "the_anchor"
    assert borrowed_rule("the_anchor", anchor_rule, rules) is None  # its own rule
    assert borrowed_rule("the_catalyst", "Ask what felt different about the third attempt.", rules) is None
    own = CARDS.get("the_catalyst").rules[0]
    script = ["Speaker: the_catalyst\nInstruction: Do not argue for a position yourself.",
              f"Speaker: the_catalyst\nInstruction: {own}"]  # fmt: skip
    settings = EngineSettings(**{**SETTINGS.__dict__, "max_turns": 1, "director_attempts": 2})
    scripted = Scripted(backend, script)
    engine = GroupEngine(scripted, CARDS, Prompts(REPO / "configs/prompts"), settings, director_adapter="director")
    state = ConversationState.start(CONTEXT, GROUP, NAMES)
    refused = engine.check_directive(state, script[0])
    assert not refused.valid and "the_facilitator's card rule, not the_catalyst's" in refused.problem
    [log] = engine.reply([state])
    assert log.attempts == [2] and log.directives[0].valid and log.directives[0].instruction == own


# ------------------------------------------------------------------ drafts the reply check refuses


class ScriptedAgents(Scripted):
    """Agents answer from a script, one text per prompt in call order."""

    def __init__(self, inner, agent_script: list[str]):
        super().__init__(inner, [])
        self.agent_script = list(agent_script)

    def generate(self, prompts, params, seeds, adapter=None):
        self.calls.append((adapter, prompts))
        self.seeds.append((adapter, list(seeds)))
        return [Generation(self.agent_script.pop(0), "", 9, "stop") for _ in prompts]


def _drafting_engine(backend, script, attempts):
    settings = EngineSettings(**{**SETTINGS.__dict__, "max_turns": 1, "agent_attempts": attempts})
    scripted = ScriptedAgents(backend, script)
    rules = FormatRules(FormatRewardConfig())
    return scripted, GroupEngine(scripted, CARDS, Prompts(REPO / "configs/prompts"), settings, order="fixed",
                                 reply_rules=rules)  # fmt: skip


def test_a_draft_the_reply_check_refuses_is_written_again_and_the_best_is_kept(backend):
    good = "Three tries is a lot to carry, and it makes sense that you feel worn down."
    meta = "As an AI, I hear how hard this third try was for you."  # fails one rule
    # first drafts of a, b, c; second drafts of a and c; third draft of c
    script = ["The Anchor:", good, meta, "That sounds hard to hear again.", "The Anchor: hm", "The Anchor:"]
    scripted, engine = _drafting_engine(backend, script, attempts=3)
    states = [ConversationState.start(CONTEXT, GROUP, NAMES) for _ in range(3)]
    logs = engine.reply(states, keys=["a", "b", "c"])
    # one batch of first drafts, then only the refused ones again, each with a new seed
    assert [len(p) for _, p in scripted.calls] == [3, 2, 1]
    assert scripted.calls[1][1][0] == scripted.calls[0][1][0]  # the same prompt, sampled again
    seeds = [s for _, batch in scripted.seeds for s in batch]
    assert len(set(seeds)) == len(seeds)
    texts = [s.agent_turns[0].text for s in states]
    # conversation a: the second draft passes; b: its first; c: every draft refused, the best kept
    assert texts == ["That sounds hard to hear again.", good, meta]
    assert [lg.drafts for lg in logs] == [[2], [1], [3]]


def test_one_attempt_keeps_every_first_draft(backend):
    scripted, engine = _drafting_engine(backend, ["The Anchor:"], attempts=1)
    state = ConversationState.start(CONTEXT, GROUP, NAMES)
    [log] = engine.reply([state])
    assert state.agent_turns[0].text == "The Anchor:" and log.drafts == [1] and len(scripted.calls) == 1


def test_a_redrafted_turn_streams_whole_and_equals_the_batched_reply(backend):
    settings = EngineSettings(**{**SETTINGS.__dict__, "agent_attempts": 3})
    engine = GroupEngine(backend, CARDS, Prompts(REPO / "configs/prompts"), settings, order="fixed",
                         reply_rules=FormatRules(FormatRewardConfig()))  # fmt: skip
    streamed, batched = (ConversationState.start(CONTEXT, GROUP, NAMES) for _ in range(2))
    events = list(engine.stream_reply(streamed, key="k"))
    [log] = engine.reply([batched], keys=["k"])
    assert [(t.speaker, t.text) for t in streamed.history] == [(t.speaker, t.text) for t in batched.history]
    assert max(log.drafts) > 1  # a random model's drafts are refused: the redraft path ran
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert all(e.start for e in tokens)  # no draft is shown piece by piece before the check has read it
