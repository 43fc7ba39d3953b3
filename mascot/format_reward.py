"""The format reward: is a reply something one companion could post in the group chat as it is?

Each rule below answers one yes/no question about a reply and gives a reason when the answer is
no. The reward is the weighted share of rules passed, so it lies in [0, 1]; a reply *passes*
when every rule does. The rules, in the order they are reported:

``no_speaker_tag``
    The reply does not open with a speaker label ("The Anchor:", "**User:**", "[PhD A]:"): a name
    of the conversation, or any short title-cased label ("The Creative One:", "Suzy Davies AM:"),
    or a few words ending in a speech verb ("The catalyst responds:").
    Agents are told to post their own message without a name tag; the chat adds the name.
``no_other_voice``
    No later line or sentence starts another speaker's turn ("...\\nUser: thanks!",
    "... Catalyst: what if"): the agent speaks only for itself, never for the person or another
    agent. Labels are the group's personas (display name, id, role), the people in the
    conversation so far, and generic chat roles (user, assistant, listener, ...).
``no_narration``
    No companion of the group told of in the third person at the start of a sentence ("The Beacon
    smiles, …", "The catalyst responds …", "The Anchor's next message"), nor the person or the
    group ("The person is using …", "The group is now discussing …"): a companion speaks as itself
    to them, it does not narrate a scene.
``no_meta``
    No role or meta text: an assistant disclaimer ("As an AI ...", "language model") or edit ("Here's
    a revised version …"), talk about the prompt ("my persona", "the rules say", "1-3 sentences",
    "the next message"), talk of the director (who is never part of the chat), or a verbatim run of
    ``prompt_copy_ngram`` words copied from the system prompt (the persona card recited back).
``length``
    At least ``min_words`` words, and between ``min_tokens`` and ``max_tokens`` completion tokens
    (end-of-sequence not counted) where the token count is known.
``ends_cleanly``
    The model stopped by itself (not cut off at the token budget) and the last character closes
    a sentence: ``. ! ? …``, a closing quote or bracket after one of those, or an emoji.
``no_loop``
    No degenerate repetition: at most ``max_repeated_ngram_share`` of the reply's word
    ``loop_ngram``-grams are repeats of an earlier one, and no sentence is said twice.
``no_echo``
    Nothing said again from an earlier turn of the conversation (the person's, a participant's or
    another companion's): no run of ``echo_ngram`` words copied from one, and no sentence of four or
    more words repeated whole. A companion adds to what was said; it does not echo it (the rollouts
    of commit 11d3c32 echoed an earlier line in 13 of 72 turns: "No, no need to cut corners.").

Speaker labels and answer formats inside the reply are matched as text only; nothing in a reply
can change which rules run or how they are scored.

This is the one definition of a bad companion reply: GRPO's format reward, and the reply check
that every stage writing companion text reports (:class:`ReplyCheck`: candidates, the agents'
check, rollouts, evaluation per system, MBTI). Stored text carries no token counts, so there the
length rule counts words and ``ends_cleanly`` reads the text alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl

from mascot.config import FormatRewardConfig

RULES = (
    "no_speaker_tag", "no_other_voice", "no_narration", "no_meta", "length", "ends_cleanly", "no_loop", "no_echo",
)  # fmt: skip
ECHO_SENTENCE_WORDS = 4  # a repeated sentence this long is an echo, not a shared "Thank you."

# Roles a small chat model is likely to write a turn for, whatever the conversation's names are.
GENERIC_SPEAKERS = (
    "user", "assistant", "system", "human", "ai", "bot", "listener", "speaker", "person", "companion",
    "me", "you", "friend", "therapist", "counselor", "moderator", "chair", "participant", "group", "director",
)  # fmt: skip
SENTENCE_END = ".!?…"
CLOSERS = "\"'”’)]»*_"
_WORD = re.compile(r"[\w']+", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?…]+[.!?…]+")
# A label no list knows: up to five words before a colon at the start of a line, either each one
# title-cased ("The Creative One:", "Suzy Davies AM:", "Mr. Owen Hughes:") or the last one a speech
# verb ("The catalyst responds:"). "Here's a thought:" is neither, so a reply may still use a colon.
SPEECH_VERBS = (
    r"(?:says|said|responds|responded|replies|replied|asks|asked|adds|added|writes|answers|continues|chimes in)"
)
_TITLE_WORD = r"(?:[A-Z][\w.'’-]*|of|the|de|van|von)"
_GENERIC_TAG = re.compile(
    r"[\*\[\(_\s]*(?:(?:" + _TITLE_WORD + r"\s+){0,4}[A-Z][\w.'’-]*"
    r"|(?:[A-Za-z][\w.'’-]*\s+){0,4}" + SPEECH_VERBS + r")[\*\]\)_\s]*:(?!\s*\d)"
)
# The person or the group told of in the third person, as a narrator would ("The person is using a
# relatable approach", "The group is now discussing", "The person smiles warmly."); "The person you
# lost …" is spoken to them. A team or committee is spoken of in meetings ("The team looks on
# track", "The team continues to grow"), so only a stage direction narrates one ("The committee
# nods", "The team continues, \"…\"").
_GESTURES = r"(?:smile[sd]?|nods|nodded|sigh(?:s|ed)?|laugh(?:s|ed)?|grins|grinned|shrugs|shrugged|frown(?:s|ed)?|pause[sd]?|lean(?:s|ed)?|listen(?:s|ed)?)"
_SPEECH = r"(?:continue|respond|repl(?:y|ie))(?:s|d|ed)?"
_AUDIENCE_NARRATION = re.compile(
    r"(?:^|(?<=[.!?…\n]))[\s\*\"“]*(?:"
    r"(?P<name>the\s+(?:person|user|group))(?:'s\b|’s\b|\s+(?:is|was|has|had|needs|feels|felt|seems|says|said|"
    r"asks|wants|shares|shared|should|will|would|can|could|might|may|looks|looked|turns|turned|"
    + _GESTURES
    + "|"
    + _SPEECH
    + r")\b)"
    r"|(?P<body>the\s+(?:team|committee|room))\s+(?:" + _GESTURES + r"\b|" + _SPEECH + r"\s*[,:\"“]))",
    re.IGNORECASE,
)
# Talk of the director, who is never part of the chat ("the director of finance" is a person).
_DIRECTOR = re.compile(r"\bdirector\b(?!\s+(?:of|general)\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Speakers:
    """Who may be named in a conversation: the reply's own persona and every other label."""

    own: tuple[str, ...]
    others: tuple[str, ...]
    companions: tuple[str, ...] = ()  # the group's own labels (own and the other companions'), for no_narration

    @classmethod
    def build(cls, own: Iterable[str], group: Iterable[str] = (), history: Iterable[str] = ()) -> Speakers:
        own_set = {_norm(s) for s in own if s and _norm(s)}
        group_set = {_norm(s) for s in group if s and _norm(s)}
        rest = {_norm(s) for s in (*group, *history, *GENERIC_SPEAKERS) if s and _norm(s)} - own_set

        def longest_first(names: set[str]) -> tuple[str, ...]:  # "The Anchor" is matched before "Anchor"
            return tuple(sorted(names, key=len, reverse=True))

        return cls(longest_first(own_set), longest_first(rest), longest_first(own_set | group_set))

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


def _alternation(names: Iterable[str]) -> str:
    """The names as one regex alternation, any run of spaces in a name matching any whitespace."""
    return "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in names)


def label_pattern(names: Iterable[str]) -> re.Pattern | None:
    names = _alternation(names)
    if not names:
        return None
    # a label: optional markup (** [ ( _), the name, optional markup, a colon. A dash is not a label
    # ("You — yes, you — matter."), so it is not matched.
    return re.compile(r"[\*\[\(_\s]*(?:the\s+)?(?P<name>" + names + r")[\*\]\)_\s]*:", re.IGNORECASE)


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
            self._patterns[names] = label_pattern(names)
        return self._patterns[names]

    def check(
        self,
        text: str,
        n_tokens: int | None,
        truncated: bool | None,
        speakers: Speakers,
        system_prompt: str = "",
        earlier: Iterable[str] = (),
    ) -> FormatVerdict:
        """One reply's verdict; ``n_tokens`` and ``truncated`` are None for stored text, whose
        generation details are gone (length then counts words only, the ending reads the text).
        ``earlier`` holds the texts of the conversation's turns before this one."""
        reasons = {
            "no_speaker_tag": self._speaker_tag(text, speakers),
            "no_other_voice": self._other_voice(text, speakers),
            "no_narration": self._narration(text, speakers),
            "no_meta": self._meta(text, system_prompt),
            "length": self._length(text, n_tokens),
            "ends_cleanly": self._ending(text, bool(truncated)),
            "no_loop": self._loop(text),
            "no_echo": self._echo(text, earlier),
        }
        total = sum(self.weights.values())
        reward = sum(w for rule, w in self.weights.items() if reasons[rule] is None) / total
        return FormatVerdict(round(reward, 6), reasons)

    # ------------------------------------------------------------------ rules

    def _speaker_tag(self, text: str, speakers: Speakers) -> str | None:
        m = opening_tag(text.lstrip(), self._pattern(speakers.all))
        return f"starts with the speaker tag '{m.group(0).strip()}'" if m else None

    def _other_voice(self, text: str, speakers: Speakers) -> str | None:
        at = other_voice_at(text, self._pattern(speakers.others))
        return f"speaks for another ('{text[at:].strip()[:30]}')" if at is not None else None

    def _narration(self, text: str, speakers: Speakers) -> str | None:
        pattern = self._narration_pattern(speakers.companions)
        m = (pattern.search(text) if pattern else None) or _AUDIENCE_NARRATION.search(text)
        if m is None:
            return None
        return f"narrates '{m.group('name') or m.group('body')}' in the third person ('{m.group(0).strip()[:30]}')"

    def _narration_pattern(self, names: tuple[str, ...]) -> re.Pattern | None:
        key = ("narration", *names)
        if key not in self._patterns:
            alts = _alternation(names)
            # a companion's name opening a sentence, then a lower-case word or a possessive:
            # "The Beacon smiles", "The Anchor's next message"; "Anchor, I agree" is an address
            self._patterns[key] = (
                re.compile(
                    r"(?:^|(?<=[.!?…\n]))[\s\*\"“]*(?i:the\s+)?(?P<name>(?i:" + alts + r"))(?:'s\b|’s\b|\s+[a-z])"
                )
                if alts
                else None
            )
        return self._patterns[key]

    def _meta(self, text: str, system_prompt: str) -> str | None:
        norm = _norm(text)
        for phrase in self.meta:
            if phrase and phrase in norm:
                return f"meta text '{phrase}'"
        if _DIRECTOR.search(text):
            return "talks of the director"
        n = self.cfg.prompt_copy_ngram
        words = _WORD.findall(norm)
        if system_prompt and n and len(words) >= n:
            prompt_words = _WORD.findall(_norm(system_prompt))
            grams = {tuple(prompt_words[i : i + n]) for i in range(len(prompt_words) - n + 1)}
            for i in range(len(words) - n + 1):
                if tuple(words[i : i + n]) in grams:
                    return f"copies the prompt: '{' '.join(words[i : i + n])}'"
        return None

    def _length(self, text: str, n_tokens: int | None) -> str | None:
        words = len(_WORD.findall(text))
        if words < self.cfg.min_words:
            return f"{words} words, fewer than {self.cfg.min_words}"
        if n_tokens is None:
            return None
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

    def _echo(self, text: str, earlier: Iterable[str]) -> str | None:
        n = self.cfg.echo_ngram
        if not n:
            return None
        words = _WORD.findall(_norm(text))
        mine = {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
        sentences = {tuple(_WORD.findall(_norm(s))) for s in _SENTENCE.findall(text)}
        sentences = {s for s in sentences if len(s) >= ECHO_SENTENCE_WORDS}
        for before in earlier:
            said = _WORD.findall(_norm(before))
            for i in range(len(said) - n + 1):
                if tuple(said[i : i + n]) in mine:
                    return f"repeats an earlier turn: '{' '.join(said[i : i + n])}'"
            for sentence in _SENTENCE.findall(before):
                if tuple(_WORD.findall(_norm(sentence))) in sentences:
                    return f"repeats an earlier sentence: '{' '.join(sentence.split())[:60]}'"
        return None


def opening_tag(text: str, known: re.Pattern | None) -> re.Match | None:
    """The speaker label ``text`` opens with: a known name (``known``) or a generic label."""
    return (known.match(text) if known else None) or _GENERIC_TAG.match(text)


def other_voice_at(text: str, known: re.Pattern | None) -> int | None:
    """Where in ``text`` another speaker's turn starts, after the reply's own opening (an opening tag
    is no_speaker_tag's business): a known name at a line start or right after a sentence ends, or
    a generic label at a line start. None when the reply speaks alone."""
    body_start = len(text) - len(text.lstrip())
    start = opening_tag(text[body_start:], known)
    offset = body_start + (start.end() if start else 0)
    for m in re.finditer(r"(?:\n|(?<=[.!?…]))[ \t]*", text[offset:]):
        at = offset + m.end()
        if at >= len(text.rstrip()):
            break
        line_start = m.group(0).startswith("\n")
        if (known and known.match(text, at)) or (line_start and _GENERIC_TAG.match(text, at)):
            return at - len(m.group(0)) if line_start else at
    return None


def tidy_reply(text: str, speakers: Speakers) -> str:
    """What the chat keeps of a generated reply: the text before another speaker's line starts (the
    stop a chat server puts at a new speaker: a small model shown a conversation may go on to write
    the next person's line), up to its last finished sentence when one of at least three words
    exists (a reply cut at the token budget would otherwise end mid-word). The format reward sees
    replies untrimmed, so GRPO still learns to write neither; a stage's reply check sees what the
    person sees (candidates count the replies trimmed)."""
    at = other_voice_at(text, label_pattern(speakers.others))
    text = (text if at is None else text[:at]).strip()
    if text and text[-1] not in SENTENCE_END + CLOSERS and unicodedata.category(text[-1]) != "So":
        ends = [m.end() for m in _SENTENCE.finditer(text)]
        if ends and len(_WORD.findall(text[: ends[-1]])) >= 3:
            end = ends[-1]
            while end < len(text) and text[end] in CLOSERS:  # a closing quote or bracket after the stop
                end += 1
            text = text[:end].strip()
    return text


def context_moment(context: Mapping) -> str:
    """A context's situation and question: what every stage checks a reply's verbatim copying
    against (the system prompt itself is not stored with a table's turns)."""
    return " ".join(filter(None, (context.get("situation"), context.get("query"))))


def speakers_for(persona_names: Mapping[str, object], persona: str, history: Iterable[Mapping]) -> Speakers:
    """The labels for one reply: ``persona_names`` maps each persona of the group to its card."""
    own = persona_names[persona]
    group = [s for name, card in persona_names.items() if name != persona for s in _card_labels(card)]
    return Speakers.build(_card_labels(own), group, [t["speaker"] for t in history or []])


def _card_labels(card) -> list[str]:
    name = card.name.replace("_", " ")
    return [card.display_name, card.name, name, card.display_name.removeprefix("The "), card.role]


class ReplyCheck:
    """The reply check over a stage's companion turns: the format rules on each turn as the person
    sees it, with the group and the conversation's speakers as the labels a turn must not use."""

    def __init__(self, rules: FormatRewardConfig | FormatRules, cards, groups: Mapping[str, Iterable[str]]):
        """``rules``: the format rules or their config; ``cards`` is the persona registry, ``groups``
        maps a dataset to its personas."""
        self.rules = rules if isinstance(rules, FormatRules) else FormatRules(rules)
        self.cards = cards
        self.groups = {ds: {n: cards.get(n) for n in names} for ds, names in groups.items()}

    def speakers(self, dataset: str, persona: str, history: Iterable[Mapping] = ()) -> Speakers:
        group = dict(self.groups.get(dataset, {}))
        group.setdefault(persona, self.cards.get(persona))
        return speakers_for(group, persona, history)

    def verdict(
        self,
        text: str,
        dataset: str,
        persona: str,
        history: Iterable[Mapping] = (),
        n_tokens: int | None = None,
        truncated: bool | None = None,
        context: Mapping | None = None,
        earlier: Iterable[str] | None = None,
    ) -> FormatVerdict:
        """``context`` (a contexts row): its situation and question stand in for the system prompt,
        whose verbatim copy is meta text (the prompt itself is not stored with a table's turns).
        ``earlier``: the texts said before this turn (default: ``history``'s)."""
        history = list(history)
        moment = context_moment(context) if context else ""
        earlier = [t["text"] for t in history] if earlier is None else earlier
        speakers = self.speakers(dataset, persona, history)
        return self.rules.check(text, n_tokens, truncated, speakers, moment, earlier)

    def tidy(self, text: str, dataset: str, persona: str, history: Iterable[Mapping] = ()) -> str:
        return tidy_reply(text, self.speakers(dataset, persona, history))

    def turns(
        self,
        rows: Iterable[Mapping],
        contexts: Mapping[str, Mapping],
        text: str = "text",
        persona: str = "speaker",
        checked: Iterable[str] | None = None,
    ) -> list[FormatVerdict]:
        """The verdict on each companion turn of a table (rows with ``context_id``, the persona and
        the text), the context's speakers counted as others, and what was said before it — the
        context's history, then the earlier rows of its conversation (:func:`conversation_of`) — as
        what it must not echo. With ``checked`` (persona names) only those rows get a verdict; the
        others (a simulated user's) still count as said."""
        rows = list(rows)
        said: dict[object, list[tuple[int, str]]] = {}
        for row in rows:
            key, order = conversation_of(row)
            said.setdefault(key, []).append((order, row[text]))
        names = None if checked is None else set(checked)
        out = []
        for row in rows:
            if names is not None and row[persona] not in names:
                continue
            ctx = contexts[row["context_id"]]
            key, order = conversation_of(row)
            history = ctx["history"] or []
            earlier = [t["text"] for t in history] + [t for o, t in sorted(said[key]) if o < order]
            out.append(self.verdict(row[text], ctx["dataset"], row[persona], history, context=ctx, earlier=earlier))
        return out

    def table_metrics(self, table: pl.DataFrame, contexts: pl.DataFrame) -> dict[str, float | int]:
        """The reply check of a table's companion turns (rows whose ``speaker`` is a companion of the
        group: rollouts, MBTI conversations), overall and per companion."""
        names = sorted({n for group in self.groups.values() for n in group})
        by_id = {r["context_id"]: r for r in contexts.iter_rows(named=True)}
        verdicts = self.turns(table.to_dicts(), by_id, checked=names)
        spoke = table.filter(pl.col("speaker").is_in(names))["speaker"].to_list()
        return reply_check_metrics(verdicts) | pass_rates_by(verdicts, persona=spoke)


def conversation_of(row: Mapping) -> tuple[object, int]:
    """Which conversation a table row belongs to and where in it: a group block (``block_id``,
    ``turn``), an MBTI conversation (``type``, ``context_id``, ``position``), else the context alone
    (a candidate: nothing of its kind said before it)."""
    if "block_id" in row:
        return ("block", row["block_id"]), row.get("turn", 0)
    if "position" in row:
        return ("conversation", row.get("type"), row["context_id"]), row["position"]
    return ("row", id(row)), 0


def pass_rates_by(verdicts: list[FormatVerdict], **labels: list[str]) -> dict[str, float]:
    """``{value}.format_pass_rate`` for each value of each labelling of the turns (e.g. by dataset,
    by persona): where the failures are."""
    out = {}
    for values in labels.values():
        for value in sorted(set(values)):
            part = [v for v, x in zip(verdicts, values, strict=True) if x == value]
            out[f"{value}.format_pass_rate"] = round(sum(v.passed for v in part) / len(part), 4)
    return out


def reply_check_metrics(verdicts: Iterable[FormatVerdict], prefix: str = "") -> dict[str, float | int]:
    """``{prefix}format_pass_rate``, ``{prefix}format_fail.<rule>`` (the share of turns failing each
    rule: the failure mix) and ``{prefix}format_turns``; nothing for no turns."""
    verdicts = list(verdicts)
    if not verdicts:
        return {}
    n = len(verdicts)
    out: dict[str, float | int] = {
        f"{prefix}format_pass_rate": round(sum(v.passed for v in verdicts) / n, 4),
        f"{prefix}format_turns": n,
    }
    for rule in RULES:
        out[f"{prefix}format_fail.{rule}"] = round(sum(v.reasons[rule] is not None for v in verdicts) / n, 4)
    return out
