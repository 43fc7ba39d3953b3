"""What a group conversation knows at any turn: the context, the history with speaker names, how
often each agent has spoken, and a running record of what the group has already covered.

The record is extractive on purpose: one line per agent turn, the agent's name with the first
sentence it said (cut to a few words). A small director can read it cheaply, it cannot drift from
what was really said, and a later turn can see that a point was made and build on it instead of
making it again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mascot.chat.directive import Directive

USER = "user"
RECORD_WORDS = 16
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?…])(\s|$)", re.S)


@dataclass(frozen=True)
class Turn:
    speaker: str  # a persona name for agent turns; the speaker label of the data for the others
    text: str
    role: str  # "user" (the person, or a meeting participant outside the group) or "agent"
    directive: Directive | None = None


def first_sentence(text: str, words: int = RECORD_WORDS) -> str:
    m = _FIRST_SENTENCE.match(text.strip())
    sentence = (m.group(1) if m else text.strip()).split()
    return " ".join(sentence[:words]) + (" …" if len(sentence) > words else "")


@dataclass
class ConversationState:
    context: Mapping  # a contexts-table row
    group: Sequence[str]  # persona names, in the group's order
    display: Mapping[str, str]  # persona name → display name
    history: list[Turn] = field(default_factory=list)
    record: list[str] = field(default_factory=list)
    reply_start: int = 0  # index in history where the group's current reply began

    @classmethod
    def start(cls, context: Mapping, group: Sequence[str], display: Mapping[str, str]) -> ConversationState:
        turns = [Turn(t["speaker"], t["text"], USER) for t in context["history"] or []]
        state = cls(context, list(group), dict(display), turns)
        state.reply_start = len(turns)
        return state

    # ---------------------------------------------------------------- reading

    @property
    def agent_turns(self) -> list[Turn]:
        return [t for t in self.history if t.role == "agent"]

    def turns_per_agent(self) -> dict[str, int]:
        counts = Counter(t.speaker for t in self.agent_turns)
        return {name: counts.get(name, 0) for name in self.group}

    def reply_speakers(self) -> list[str]:
        """Who has spoken in the group's current reply, in order."""
        return [t.speaker for t in self.history[self.reply_start :] if t.role == "agent"]

    def spoken_this_reply(self) -> dict[str, int]:
        counts = Counter(self.reply_speakers())
        return {name: counts.get(name, 0) for name in self.group}

    def turns_this_reply(self) -> int:
        return sum(self.spoken_this_reply().values())

    def as_history(self, start: int = 0) -> list[dict[str, str]]:
        """Turns as the prompts take them: agents under their display names, each with its role
        ("user" or "agent"), so a companion's prompt can tell the group's turns from the person's."""
        return [
            {"speaker": self.display.get(t.speaker, t.speaker) if t.role == "agent" else t.speaker, "text": t.text,
             "role": t.role}
            for t in self.history[start:]
        ]  # fmt: skip

    def reply_transcript(self) -> str:
        """The group's current reply as the group judge and reward model read it: one
        "Display Name: text" line per agent turn (the format of ``judge.blocks.block_transcripts``)."""
        turns = self.history[self.reply_start :]
        return "\n".join(f"{self.display.get(t.speaker, t.speaker)}: {t.text}" for t in turns if t.role == "agent")

    # ---------------------------------------------------------------- writing

    def add_user(self, text: str, speaker: str = USER) -> None:
        """A new message from the person: the group's next reply starts after it."""
        self.history.append(Turn(speaker, text, USER))
        self.reply_start = len(self.history)

    def add_agent(self, persona: str, text: str, directive: Directive | None) -> None:
        if persona not in self.group:
            raise ValueError(f"'{persona}' is not in this group ({', '.join(self.group)})")
        self.history.append(Turn(persona, text, "agent", directive))
        self.record.append(f"{self.display.get(persona, persona)}: {first_sentence(text)}")
