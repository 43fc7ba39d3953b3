"""The director's directive: who speaks next and with what instruction, in a strict two-line format.

    Speaker: the_catalyst
    Instruction: Ask one question that helps her see the exam as one event, not a verdict.

``Speaker`` is a persona name of the group (its card name, or its display name such as
"The Catalyst", case-insensitive) or ``END`` when the group's reply is complete. An instruction that
copies another companion's card rule (:func:`borrowed_rule`) is refused: a 135M director handed the
Facilitator's "Do not argue for a position yourself." to the emotional-support group in 6 of 9
turns, and its companions answered by narrating "The person's words…". Nothing else may
stand before, between or after the two lines except whitespace. Only the director's own completion
is ever parsed: the conversation (user and agent text) is never searched for a directive, so a user
who writes "Speaker: the_anchor" is just saying words.

When the completion is not a valid directive, the engine asks the director again (up to
``director_attempts`` samples); when every sample is refused, :func:`fallback` decides instead and
the engine counts it: the companion the speaker rule offers who has spoken least so far in this
reply (ties: least in the whole conversation, then the conversation's speaking order, see
:func:`rotated`), with a generic instruction. A fallback never ends the reply by itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mascot.choices import SpeakerRule
from mascot.resume import stable_hash

END = "END"
FALLBACK_INSTRUCTION = "Reply to the latest message in your own role, adding something the group has not said yet."
MAX_INSTRUCTION_CHARS = 400
BORROWED_RULE_JACCARD = 0.5  # word-set overlap from which an instruction counts as a copy of a card rule

_DIRECTIVE = re.compile(
    r"\A\s*Speaker:[ \t]*(?P<speaker>[^\n]*?)[ \t]*\r?\n[ \t]*Instruction:[ \t]*(?P<instruction>[^\n]*?)\s*\Z"
)
_END_ONLY = re.compile(r"\A\s*Speaker:[ \t]*(?P<speaker>[^\n]*?)\s*\Z")


@dataclass(frozen=True)
class Directive:
    speaker: str  # a persona name, or END
    instruction: str
    valid: bool = True
    problem: str | None = None  # why the director's text was rejected (valid is False)

    @property
    def ends(self) -> bool:
        return self.speaker == END

    def render(self) -> str:
        """The canonical text of this directive (what a director should have written)."""
        return f"Speaker: {self.speaker}\nInstruction: {self.instruction}"


def _names(personas: Mapping[str, str]) -> dict[str, str]:
    """Accepted spellings (lower-cased) → persona name; ``personas`` maps name → display name."""
    accepted = {}
    for name, display in personas.items():
        accepted[name.lower()] = name
        accepted[display.lower()] = name
    accepted[END.lower()] = END
    return accepted


def parse_directive(text: str, personas: Mapping[str, str]) -> Directive:
    """The directive in ``text`` (the director's completion only), or an invalid Directive saying why.

    ``personas`` maps each persona name of the group to its display name.
    """
    m = _DIRECTIVE.match(text) or _END_ONLY.match(text)
    if m is None:
        return _invalid(text, "not the two lines 'Speaker: ...' and 'Instruction: ...'")
    names = _names(personas)
    raw = m.group("speaker").strip().strip("*_`'\"").strip()
    speaker = names.get(raw.lower())
    if speaker is None:
        return _invalid(text, f"unknown speaker '{raw[:40]}'")
    instruction = (m.groupdict().get("instruction") or "").strip()
    if speaker != END and not instruction:
        return _invalid(text, "empty instruction")
    if speaker != END and instruction.strip(".*_`'\" ").lower() in names:
        # the director copied the template's list of names into the instruction: nobody is told anything
        return _invalid(text, "the instruction names a speaker, not what to add")
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        return _invalid(text, f"instruction longer than {MAX_INSTRUCTION_CHARS} characters")
    return Directive(speaker, instruction)


def _invalid(text: str, problem: str) -> Directive:
    return Directive(speaker="", instruction="", valid=False, problem=f"{problem}: {text.strip()[:80]!r}")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def closest_rule(instruction: str, rules: Mapping[str, Sequence[str]]) -> tuple[float, set[str]]:
    """The word-set Jaccard of ``instruction`` with its closest card rule, and the companions whose
    rules reach it (``rules`` maps a persona to its card's rules); (0.0, empty) when no word is shared."""
    words = _words(instruction)
    best, owners = 0.0, set()
    for name, card_rules in rules.items():
        for rule in card_rules:
            other = _words(rule)
            score = len(words & other) / len(words | other) if words | other else 0.0
            if score > best:
                best, owners = score, {name}
            elif score == best and score > 0:
                owners.add(name)
    return best, owners


def borrowed_rule(speaker: str, instruction: str, rules: Mapping[str, Sequence[str]]) -> str | None:
    """The companion whose card rule ``instruction`` copies when that rule is not ``speaker``'s own
    (Jaccard ≥ :data:`BORROWED_RULE_JACCARD` and none of the speaker's rules as close), else None. An
    instruction written in the director's own words is never refused here."""
    score, owners = closest_rule(instruction, rules)
    if score < BORROWED_RULE_JACCARD or speaker in owners:
        return None
    return min(owners)


def eligible_speakers(group: Sequence[str], reply_speakers: Sequence[str], rule: SpeakerRule) -> list[str]:
    """The companions of ``group`` (in its order) the director may name next, given who has spoken in
    this reply so far (``reply_speakers``, in order) and the ``rule`` (see :data:`SpeakerRule`)."""
    if rule == "least_spoken":
        counts = {name: reply_speakers.count(name) for name in group}
        return [name for name in group if counts[name] == min(counts.values())]
    if rule == "not_last" and reply_speakers and len(group) > 1:
        return [name for name in group if name != reply_speakers[-1]]
    return list(group)


def rotated(group: Sequence[str], key: str) -> list[str]:
    """The group's order, started at a place fixed by ``key`` (a conversation's context id). The
    director's roster and choices and the fallback's ties read the group in this order, after who
    spoke least in earlier replies (``GroupEngine.speaking_order``): with three turns for four
    companions, a 135M director that names them in the order listed, and a fallback that broke ties
    in the group's order, left the last companion of every group silent."""
    if not group:
        return []
    start = int(stable_hash("speaking order", key)[:8], 16) % len(group)
    return [*group[start:], *group[:start]]


def fallback(order: Sequence[str], spoken: Mapping[str, int], problem: str | None = None) -> Directive:
    """The documented fallback: whoever of ``order`` has spoken least in this reply, ties to the first
    in ``order`` (the engine's speaking order lists who spoke least in earlier replies first)."""
    speaker = min(order, key=lambda name: (spoken.get(name, 0), order.index(name)))
    return Directive(speaker, FALLBACK_INSTRUCTION, valid=False, problem=problem)
