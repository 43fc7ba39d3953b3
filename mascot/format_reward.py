"""The format reward: is a reply something one companion could post in the group chat as it is?

Each rule below answers one yes/no question about a reply and gives a reason when the answer is
no. The reward is the weighted share of rules passed, so it lies in [0, 1]; a reply *passes*
when every rule does. The rules, in the order they are reported:

``no_speaker_tag``
    The reply does not open with a speaker label ("The Anchor:", "**User:**", "[PhD A]:").
    Agents are told to post their own message without a name tag; the chat adds the name.
``no_other_voice``
    No later line or sentence starts another speaker's turn ("...\\nUser: thanks!",
    "... Catalyst: what if"): the agent speaks only for itself, never for the person or another
    agent. Labels are the group's personas (display name, id, role), the people in the
    conversation so far, and generic chat roles (user, assistant, listener, ...).
``no_meta``
    No role or meta text: an assistant disclaimer ("As an AI ...", "language model"), talk about
    the prompt ("my persona", "the rules say", "1-3 sentences"), or a verbatim run of
    ``prompt_copy_ngram`` words copied from the system prompt (the persona card recited back).
``length``
    Between ``min_tokens`` and ``max_tokens`` completion tokens (end-of-sequence not counted).
``ends_cleanly``
    The model stopped by itself (not cut off at the token budget) and the last character closes
    a sentence: ``. ! ? …``, a closing quote or bracket after one of those, or an emoji.
``no_loop``
    No degenerate repetition: at most ``max_repeated_ngram_share`` of the reply's word
    ``loop_ngram``-grams are repeats of an earlier one, and no sentence is said twice.

Speaker labels and answer formats inside the reply are matched as text only; nothing in a reply
can change which rules run or how they are scored.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mascot.config import FormatRewardConfig

RULES = ("no_speaker_tag", "no_other_voice", "no_meta", "length", "ends_cleanly", "no_loop")

# Roles a small chat model is likely to write a turn for, whatever the conversation's names are.
GENERIC_SPEAKERS = (
    "user", "assistant", "system", "human", "ai", "bot", "listener", "speaker", "person", "companion",
    "me", "you", "friend", "therapist", "counselor", "moderator", "chair", "participant", "group",
)  # fmt: skip
SENTENCE_END = ".!?…"
CLOSERS = "\"'”’)]»*_"
_WORD = re.compile(r"[\w']+", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?…]+[.!?…]+")


@dataclass(frozen=True)
class Speakers:
    """Who may be named in a conversation: the reply's own persona and every other label."""

    own: tuple[str, ...]
    others: tuple[str, ...]

    @classmethod
    def build(cls, own: Iterable[str], group: Iterable[str] = (), history: Iterable[str] = ()) -> Speakers:
        own_set = {_norm(s) for s in own if s and _norm(s)}
        rest = {_norm(s) for s in (*group, *history, *GENERIC_SPEAKERS) if s and _norm(s)} - own_set
        # longest first, so "The Anchor" is matched before "Anchor"
        return cls(tuple(sorted(own_set, key=len, reverse=True)), tuple(sorted(rest, key=len, reverse=True)))

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(sorted({*self.own, *self.others}, key=len, reverse=True))


@dataclass
class FormatVerdict:
    reward: float
    reasons: dict[str, str | None] = field(default_factory=dict)  # rule → why it failed, None when passed

    @property
    def passed(self) -> bool:
        return all(reason is None for reason in self.reasons.values())

    def failed(self) -> list[str]:
        return [rule for rule, reason in self.reasons.items() if reason is not None]

    def explain(self) -> str:
        return "; ".join(f"{rule}: {reason}" for rule, reason in self.reasons.items() if reason) or "ok"


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _label_pattern(names: Iterable[str]) -> re.Pattern | None:
    names = [re.escape(n).replace(r"\ ", r"\s+") for n in names]
    if not names:
        return None
    # a label: optional markup (** [ ( _), the name, optional markup, a colon. A dash is not a label
    # ("You — yes, you — matter."), so it is not matched.
    return re.compile(r"[\*\[\(_\s]*(?:the\s+)?(?P<name>" + "|".join(names) + r")[\*\]\)_\s]*:", re.IGNORECASE)


class FormatRules:
    """The six rules with their settings; ``check`` scores one reply."""

    def __init__(self, cfg: FormatRewardConfig):
        self.cfg = cfg
        unknown = set(cfg.weights) - set(RULES)
        if unknown:
            from mascot.registry import unknown_name_message

            raise ValueError(
                "; ".join(
                    unknown_name_message("format rule", n, RULES, "format_reward.weights") for n in sorted(unknown)
                )
            )
        self.weights = {rule: float(cfg.weights.get(rule, 1.0)) for rule in RULES}
        if sum(self.weights.values()) <= 0:
            raise ValueError("format_reward.weights: at least one rule needs a positive weight")
        self.meta = [_norm(p) for p in cfg.meta_phrases]
        self._patterns: dict[tuple[str, ...], re.Pattern | None] = {}

    def _pattern(self, names: tuple[str, ...]) -> re.Pattern | None:
        if names not in self._patterns:
            self._patterns[names] = _label_pattern(names)
        return self._patterns[names]

    def check(
        self,
        text: str,
        n_tokens: int,
        truncated: bool,
        speakers: Speakers,
        system_prompt: str = "",
    ) -> FormatVerdict:
        reasons = {
            "no_speaker_tag": self._speaker_tag(text, speakers),
            "no_other_voice": self._other_voice(text, speakers),
            "no_meta": self._meta(text, system_prompt),
            "length": self._length(n_tokens),
            "ends_cleanly": self._ending(text, truncated),
            "no_loop": self._loop(text),
        }
        total = sum(self.weights.values())
        reward = sum(w for rule, w in self.weights.items() if reasons[rule] is None) / total
        return FormatVerdict(round(reward, 6), reasons)

    # ------------------------------------------------------------------ rules

    def _speaker_tag(self, text: str, speakers: Speakers) -> str | None:
        pattern = self._pattern(speakers.all)
        m = pattern.match(text.lstrip()) if pattern else None
        return f"starts with the speaker tag '{m.group(0).strip()}'" if m else None

    def _other_voice(self, text: str, speakers: Speakers) -> str | None:
        pattern = self._pattern(speakers.others)
        if pattern is None:
            return None
        body = text.lstrip()
        start = pattern.match(body)
        offset = start.end() if start else 0  # an opening tag is no_speaker_tag's business
        # a new turn starts at a line break or right after a sentence ends
        for m in re.finditer(r"(?:^|\n|(?<=[.!?…]))\s*", body[offset:]):
            hit = pattern.match(body, offset + m.end())
            if hit and (offset + m.end()) > 0:
                return f"speaks for '{hit.group('name')}' ('{hit.group(0).strip()}')"
        return None

    def _meta(self, text: str, system_prompt: str) -> str | None:
        norm = _norm(text)
        for phrase in self.meta:
            if phrase and phrase in norm:
                return f"meta text '{phrase}'"
        n = self.cfg.prompt_copy_ngram
        words = _WORD.findall(norm)
        if system_prompt and n and len(words) >= n:
            prompt_words = _WORD.findall(_norm(system_prompt))
            grams = {tuple(prompt_words[i : i + n]) for i in range(len(prompt_words) - n + 1)}
            for i in range(len(words) - n + 1):
                if tuple(words[i : i + n]) in grams:
                    return f"copies the prompt: '{' '.join(words[i : i + n])}'"
        return None

    def _length(self, n_tokens: int) -> str | None:
        if n_tokens < self.cfg.min_tokens:
            return f"{n_tokens} tokens, fewer than {self.cfg.min_tokens}"
        if n_tokens > self.cfg.max_tokens:
            return f"{n_tokens} tokens, more than {self.cfg.max_tokens}"
        return None

    def _ending(self, text: str, truncated: bool) -> str | None:
        if truncated:
            return "cut off at the token budget"
        end = text.rstrip().rstrip(CLOSERS)
        if not end:
            return "empty reply"
        if end[-1] in SENTENCE_END or unicodedata.category(end[-1]) == "So":  # "So": emoji and symbols
            return None
        return f"ends mid-sentence ('...{text.rstrip()[-20:]}')"

    def _loop(self, text: str) -> str | None:
        words = _WORD.findall(_norm(text))
        n = self.cfg.loop_ngram
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        if grams:
            repeats = len(grams) - len(set(grams))
            share = repeats / len(grams)
            if share > self.cfg.max_repeated_ngram_share:
                top = Counter(grams).most_common(1)[0][0]
                return f"{share:.0%} of its {n}-grams repeat (e.g. '{' '.join(top)}')"
        sentences = [_norm(s) for s in _SENTENCE.findall(text)]
        sentences = [s for s in sentences if len(_WORD.findall(s)) >= 3]
        dup = [s for s, c in Counter(sentences).items() if c > 1]
        return f"says '{dup[0]}' twice" if dup else None


def speakers_for(persona_names: Mapping[str, object], persona: str, history: Iterable[Mapping]) -> Speakers:
    """The labels for one reply: ``persona_names`` maps each persona of the group to its card."""
    own = persona_names[persona]
    group = [s for name, card in persona_names.items() if name != persona for s in _card_labels(card)]
    return Speakers.build(_card_labels(own), group, [t["speaker"] for t in history or []])


def _card_labels(card) -> list[str]:
    name = card.name.replace("_", " ")
    return [card.display_name, card.name, name, card.display_name.removeprefix("The "), card.role]
