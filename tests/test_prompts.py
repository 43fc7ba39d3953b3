"""The companions' framing: a conversation reaches a companion as chat turns, never as a transcript."""

from __future__ import annotations

from mascot.chat.directive import Directive
from mascot.chat.engine import GroupEngine, group_names
from mascot.chat.state import ConversationState
from mascot.personas import load_cards
from mascot.prompts import Prompts

from .conftest import REPO

CARDS = load_cards(REPO / "configs/personas")
PROMPTS = Prompts(REPO / "configs/prompts")
GROUP = ["the_anchor", "the_catalyst", "the_beacon", "the_action_guide"]
ED = {
    "context_id": "ed/valid/1/2", "dataset": "empathetic_dialogues", "domain": "negative", "emotion": "embarrassed",
    "situation": "I failed my driving test.", "query": None,
    "history": [{"speaker": "user", "text": "I failed my driving test again."},
                {"speaker": "companion", "text": "Oh no. What happened?"},
                {"speaker": "user", "text": "I panicked at the roundabout."}],
}  # fmt: skip
MEETING = {
    "context_id": "qmsum/valid/product/m/0", "dataset": "qmsum", "domain": "product", "emotion": None,
    "situation": "Product meeting. Topic: the remote's buttons.", "query": "Which buttons stay?",
    "history": [{"speaker": "Project Manager", "text": "Let's decide on the buttons."},
                {"speaker": "Industrial Designer", "text": "Fewer buttons cost less."}],
}  # fmt: skip


def test_the_person_speaks_in_user_turns_and_the_group_in_assistant_turns():
    system, *chat = PROMPTS.persona_messages(CARDS.get("the_anchor"), ED, instruction="Name the feeling.")
    assert system["role"] == "system" and "You are The Anchor" in system["content"]
    assert "The person feels embarrassed. What happened: I failed my driving test." in system["content"]
    assert "Now: Name the feeling." in system["content"]  # the director's instruction, where a small model follows it
    assert chat == [
        {"role": "user", "content": "I failed my driving test again."},
        {"role": "assistant", "content": "Oh no. What happened?"},  # the data's listener: the group's own side
        {"role": "user", "content": "I panicked at the roundabout."},
    ]


def test_meeting_turns_are_user_turns_without_names_and_the_question_is_in_the_system_message():
    system, *chat = PROMPTS.persona_messages(CARDS.get("the_analyst"), MEETING)
    assert [m["role"] for m in chat] == ["user", "user"]
    assert [m["content"] for m in chat] == ["Let's decide on the buttons.", "Fewer buttons cost less."]
    assert (
        "Question on the table: Which buttons stay?" in system["content"]
        and "Reply to the meeting" in system["content"]
    )


def test_a_companion_sees_its_own_turns_as_its_own_and_the_others_as_said_to_it():
    engine = GroupEngine(Counting(), CARDS, PROMPTS, order="fixed")
    state = ConversationState.start(ED, GROUP, group_names(CARDS, GROUP))
    state.add_agent("the_catalyst", "What did the roundabout feel like?", None)
    state.add_user("Scary, honestly.")
    state.add_agent("the_anchor", "That sounds frightening.", None)
    system, *chat = engine.agent_messages(state, "the_catalyst", Directive("the_catalyst", "Ask one question."))
    assert chat[-3:] == [
        {"role": "assistant", "content": "What did the roundabout feel like?"},  # its own earlier turn
        {"role": "user", "content": "Scary, honestly."},
        {"role": "user", "content": "That sounds frightening."},  # another companion's, with no name in front
    ]
    assert "Now: Ask one question." in system["content"] and "The Anchor" not in system["content"]


class Counting:
    """A backend stand-in for prompts alone: every prompt fits."""

    def count_tokens(self, messages):
        return 0


def test_a_conversation_that_opens_with_the_group_starts_from_the_situation():
    context = ED | {"history": []}
    _, first = PROMPTS.persona_messages(CARDS.get("the_beacon"), context)
    assert first == {"role": "user", "content": "I failed my driving test."}
