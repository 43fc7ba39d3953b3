"""One conversation engine for rollouts, evaluation and chat: director → directive → agent.

A group reply is up to ``max_turns`` agent turns. Each turn the director (or a fixed or random
order, for baselines and ablations) names the next speaker and an instruction; the named agent
answers with its persona card, its adapter and the instruction. Many conversations advance in
lockstep, so every turn is one batched generate call for the directors and one per agent adapter.
Every prompt is fitted to ``max_prompt_tokens`` by dropping the oldest history turns, so long
conversations stay inside the model's context window.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mascot.chat.directive import (
    END,
    FALLBACK_INSTRUCTION,
    Directive,
    SpeakerRule,
    borrowed_rule,
    eligible_speakers,
    fallback,
    parse_directive,
    rotated,
)
from mascot.chat.state import ConversationState
from mascot.config import ConversationConfig
from mascot.format_reward import (
    FormatRules,
    Speakers,
    context_moment,
    label_pattern,
    other_voice_at,
    speakers_for,
    tidy_reply,
)
from mascot.llm import Backend, Message, SamplingParams
from mascot.personas import Persona
from mascot.prompts import Prompts, context_vars, fit_history
from mascot.registry import Registry
from mascot.seeds import derive_seed

Order = Literal["director", "fixed", "random"]


@dataclass(frozen=True)
class EngineSettings:
    max_turns: int = 3
    max_prompt_tokens: int = 512
    director: SamplingParams = SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=48)
    agent: SamplingParams = SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=64)
    seed: int = 0
    speaker_rule: SpeakerRule = "least_spoken"
    director_attempts: int = 3  # director samples per directive before the fallback decides
    agent_attempts: int = 1  # drafts per companion turn while the reply check refuses them


def engine_settings(cfg: ConversationConfig) -> EngineSettings:
    """The engine's settings from the ``conversation`` params (built here, not in config, which
    imports no component)."""

    def params(n: int, repetition_penalty: float = 1.0, min_new_tokens: int = 0) -> SamplingParams:
        return SamplingParams(cfg.temperature, cfg.top_p, n, repetition_penalty, min_new_tokens)

    return EngineSettings(
        max_turns=cfg.max_turns, max_prompt_tokens=cfg.max_prompt_tokens, director=params(cfg.director_max_new_tokens),
        agent=params(cfg.agent_max_new_tokens, cfg.agent_repetition_penalty, cfg.agent_min_new_tokens),
        seed=cfg.seed,
        speaker_rule=cfg.speaker_rule, director_attempts=cfg.director_attempts, agent_attempts=cfg.agent_attempts,
    )  # fmt: skip


@dataclass
class ReplyLog:
    """What happened in one group reply: every directive, as written and as used."""

    directives: list[Directive] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)  # the director's last text per directive ("" without one)
    attempts: list[int] = field(default_factory=list)  # director samples per directive (0 without one)
    invalid: int = 0  # directives the fallback decided (every attempt was refused)
    drafts: list[int] = field(default_factory=list)  # companion drafts per directive (0 for END)
    ended_by_director: bool = False


class GroupEngine:
    def __init__(
        self,
        backend: Backend,
        cards: Registry[Persona],
        prompts: Prompts,
        settings: EngineSettings = EngineSettings(),
        agent_adapters: Mapping[str, str | None] | None = None,
        director_adapter: str | None = None,
        order: Order = "director",
        agent_template: str = "persona_system.jinja",
        agent_vars: Mapping[str, object] | None = None,
        reply_rules: FormatRules | None = None,
    ):
        """``agent_adapters`` maps a persona to its adapter name on ``backend`` (missing or None:
        the backend's plain weights); ``director_adapter`` likewise for the director.
        ``agent_template`` is the system prompt of an agent's turn; evaluation swaps it to take the
        persona card out (MASCOT-P) or to ask π_SFT as it was trained, and sets ``agent_vars``
        (``with_examples: False`` leaves the card's example lines out). ``reply_rules`` is the reply
        check a companion's draft must pass; a refused draft is sampled again, up to
        ``settings.agent_attempts`` drafts (without rules every first draft is kept)."""
        self.backend, self.cards, self.prompts, self.settings = backend, cards, prompts, settings
        self.agent_adapters = dict(agent_adapters or {})
        self.director_adapter, self.order = director_adapter, order
        self.agent_template, self.agent_vars = agent_template, dict(agent_vars or {})
        self.card_rules = {name: cards.get(name).rules for name in cards}
        self.reply_rules = reply_rules

    # ---------------------------------------------------------------- prompts

    def speaking_order(self, state: ConversationState) -> list[str]:
        """The group in the order the director reads it now: who spoke least in the conversation's
        earlier replies first, ties in the conversation's rotated order (:func:`rotated`). A 135M
        director keeps to the order it reads, so with one fixed order the companion last in it was
        left out of every reply of a chat; the first reply of a conversation reads the rotation alone."""
        total, now = state.turns_per_agent(), state.spoken_this_reply()
        earlier = {name: total[name] - now[name] for name in state.group}
        return sorted(rotated(state.group, str(state.context.get("context_id", ""))), key=earlier.__getitem__)

    def director_messages(self, state: ConversationState) -> list[Message]:
        order = self.speaking_order(state)
        personas = [self.cards.get(n) for n in order]
        counts = state.spoken_this_reply()
        spoken = {state.display[n]: counts[n] for n in order}
        left = self.settings.max_turns - state.turns_this_reply()
        # the answers the director may give now: END only once somebody has spoken
        choices = self.eligible(state, order) + ([END] if state.turns_this_reply() else [])

        def build(history: list) -> list[Message]:
            variables = context_vars(state.context, history)
            system = self.prompts.render("director_system.jinja", personas=personas, **variables)
            user = self.prompts.render(
                "director_user.jinja", personas=personas, choices=choices, record=state.record, spoken=spoken,
                turns_left=left, **variables,
            )  # fmt: skip
            return [{"role": "system", "content": system}, {"role": "user", "content": user}]

        return fit_history(build, state.as_history(), self.backend.count_tokens, self.settings.max_prompt_tokens)

    def agent_messages(self, state: ConversationState, persona: str, directive: Directive) -> list[Message]:
        card = self.cards.get(persona)

        def build(history: list) -> list[Message]:
            return self.prompts.persona_messages(
                card, state.context, history, directive.instruction, self.agent_template, **self.agent_vars
            )

        return fit_history(build, state.as_history(), self.backend.count_tokens, self.settings.max_prompt_tokens)

    # ---------------------------------------------------------------- turns

    def _directives(
        self, states: Sequence[ConversationState], logs: Sequence[ReplyLog], turn: int, keys
    ) -> list[Directive]:
        if self.order == "fixed":  # the group's order, round robin from the first persona
            return [Directive(s.group[s.turns_this_reply() % len(s.group)], FALLBACK_INSTRUCTION) for s in states]
        if self.order == "random":  # MASCOT-C: a seeded random speaker, no director
            return [
                Directive(
                    random.Random(derive_seed(self.settings.seed, k, turn)).choice(list(s.group)), FALLBACK_INSTRUCTION
                )
                for s, k in zip(states, keys)
            ]
        # AutoGen's SelectorGroupChat asks its selector again on a bad answer (max_selector_attempts);
        # a retry here is a new sample of the same prompt, the prompt the director was trained on.
        # Every attempt is sampled in one call and read in order: the rows of one prompt share its
        # prompt pass (the backend's shared prefill), which on the CPU costs more than the decoding,
        # and a 135M director needs its retries on most turns (2.3 samples per directive, 39ff558).
        messages = [self.director_messages(s) for s in states]
        n = max(1, self.settings.director_attempts)
        rows = [(i, a) for i in range(len(states)) for a in range(n)]
        # the first sample's seed does not depend on the number of attempts
        seeds = [derive_seed(self.settings.seed, keys[i], turn, "director", *([a] if a else [])) for i, a in rows]
        gens = self.backend.generate([messages[i] for i, _ in rows], self.settings.director, seeds,
                                     adapter=self.director_adapter)  # fmt: skip
        texts, attempts = [""] * len(states), [0] * len(states)
        out: list[Directive | None] = [None] * len(states)
        for (i, _), gen in zip(rows, gens):
            if out[i] is not None and out[i].valid:
                continue  # an earlier sample was accepted; the later ones are never read
            texts[i], attempts[i] = gen.text, attempts[i] + 1
            out[i] = self.check_directive(states[i], gen.text)
        pending = [i for i in range(len(states)) if not out[i].valid]
        for i in pending:  # every sample refused: the counted fallback decides
            out[i] = self.fallback(states[i], out[i].problem)
        for log, text, n, directive in zip(logs, texts, attempts, out):
            log.raw.append(text)
            log.attempts.append(n)
            log.invalid += not directive.valid
        return out

    def eligible(self, state: ConversationState, order: Sequence[str] | None = None) -> list[str]:
        """The companions the director may name now (``speaker_rule``), in ``order`` (default: the
        speaking order)."""
        order = self.speaking_order(state) if order is None else order
        return eligible_speakers(order, state.reply_speakers(), self.settings.speaker_rule)

    def check_directive(self, state: ConversationState, text: str) -> Directive:
        """The director's ``text`` as a directive in ``state``, or an invalid Directive saying why. END
        before any companion has spoken in this reply is invalid (the person would get no reply at
        all), and so is a companion the speaker rule does not offer now."""
        directive = parse_directive(text, {n: state.display[n] for n in state.group})
        if directive.valid and directive.ends and state.turns_this_reply() == 0:
            return Directive("", "", valid=False, problem="END before any companion replied")
        allowed = self.eligible(state)
        if directive.valid and not directive.ends and directive.speaker not in allowed:
            problem = f"{directive.speaker} may not speak now (speaker_rule {self.settings.speaker_rule}: {', '.join(allowed)})"
            return Directive("", "", valid=False, problem=problem)
        if directive.valid and not directive.ends:
            owner = borrowed_rule(directive.speaker, directive.instruction, self.card_rules)
            if owner is not None:
                problem = (
                    f"the instruction is {owner}'s card rule, not {directive.speaker}'s: {directive.instruction[:60]!r}"
                )
                return Directive("", "", valid=False, problem=problem)
        return directive

    def fallback(self, state: ConversationState, problem: str | None) -> Directive:
        """The counted fallback (:func:`~mascot.chat.directive.fallback`) among those the rule offers."""
        return fallback(self.eligible(state), state.spoken_this_reply(), problem)

    def resolve_directive(self, state: ConversationState, text: str) -> Directive:
        """The directive one director sample gives in ``state``: its own when valid, else the counted
        fallback (``valid`` False, ``problem`` saying why)."""
        directive = self.check_directive(state, text)
        return directive if directive.valid else self.fallback(state, directive.problem)

    def speak(
        self, states: Sequence[ConversationState], directives: Sequence[Directive], keys: Sequence[object], turn: int
    ) -> list[int]:
        """The named agents answer their directives (END: nobody speaks), one batched generate per
        adapter and draft; each answer is added to its conversation's state. Returns the drafts each
        turn took (0 for END)."""
        by_adapter: dict[str | None, list[int]] = {}
        for i, directive in enumerate(directives):
            if not directive.ends:
                by_adapter.setdefault(self.agent_adapters.get(directive.speaker), []).append(i)
        drafts = [0] * len(states)
        for adapter, batch in by_adapter.items():
            texts = self.draft([states[i] for i in batch], [directives[i] for i in batch], [keys[i] for i in batch],
                               turn, adapter)  # fmt: skip
            for i, (text, n) in zip(batch, texts):
                states[i].add_agent(directives[i].speaker, text, directives[i])
                drafts[i] = n
        return drafts

    def draft(
        self,
        states: Sequence[ConversationState],
        directives: Sequence[Directive],
        keys: Sequence[object],
        turn: int,
        adapter: str | None,
    ) -> list[tuple[str, int]]:
        """Each named companion's turn as the person will see it (:func:`tidy_reply`) and the drafts
        it took. A draft the reply check refuses is sampled again with a new seed, up to
        ``agent_attempts`` drafts; the turn keeps the first draft that passes, else the one with the
        best format reward (the earliest of equals). The first draft's seed does not depend on the
        number of attempts, so ``agent_attempts`` 1 writes exactly the first drafts."""
        attempts = self.settings.agent_attempts if self.reply_rules is not None else 1
        messages = [self.agent_messages(s, d.speaker, d) for s, d in zip(states, directives)]
        speakers = [self.speakers(s, d.speaker) for s, d in zip(states, directives)]
        # what a draft must not echo: the context's moment and the conversation's earlier turns
        seen = [(context_moment(s.context), [t["text"] for t in s.as_history()]) for s in states]
        best: list[tuple[float, str]] = [(-1.0, "")] * len(states)
        drafts = [0] * len(states)
        pending = list(range(len(states)))
        for attempt in range(max(1, attempts)):
            seeds = [derive_seed(self.settings.seed, keys[i], turn, "agent", *([attempt] if attempt else []))
                     for i in pending]  # fmt: skip
            gens = self.backend.generate([messages[i] for i in pending], self.settings.agent, seeds, adapter)
            refused = []
            for i, gen in zip(pending, gens):
                text, drafts[i] = tidy_reply(gen.text, speakers[i]), drafts[i] + 1
                if self.reply_rules is None:
                    best[i] = (1.0, text)
                    continue
                verdict = self.reply_rules.check(text, None, None, speakers[i], *seen[i])
                if verdict.reward > best[i][0]:
                    best[i] = (verdict.reward, text)
                if not verdict.passed:
                    refused.append(i)
            pending = refused
            if not pending:
                break
        return [(text, n) for (_, text), n in zip(best, drafts)]

    def speakers(self, state: ConversationState, persona: str) -> Speakers:
        """Who else may be named in ``persona``'s turn: the group, the conversation's speakers."""
        return speakers_for({n: self.cards.get(n) for n in state.group}, persona, state.as_history())

    def stream_reply(
        self,
        state: ConversationState,
        key: object = 0,
        settings: EngineSettings | None = None,
        order: Order | None = None,
    ) -> Iterator[StreamEvent]:
        """One group reply to one conversation, as it happens: each directive, each agent's text
        piece by piece, each finished turn. With the same state, key and settings it writes the
        same reply as :meth:`reply` (the same seeds per turn); ``settings`` and ``order`` override
        the engine's for this reply only (a chat request's temperature, a single agent)."""
        saved = self.settings, self.order
        self.settings, self.order = settings or self.settings, order or self.order
        try:
            log = ReplyLog()
            for turn in range(self.settings.max_turns):
                (directive,) = self._directives([state], [log], turn, [key])
                log.directives.append(directive)
                yield DirectiveEvent(directive, log.raw[-1] if log.raw else "")
                if directive.ends:
                    log.drafts.append(0)
                    return
                persona = directive.speaker
                adapter = self.agent_adapters.get(persona)
                if self.reply_rules is not None and self.settings.agent_attempts > 1:
                    # a draft the check may refuse is never shown: the turn comes whole, once kept
                    ((text, n),) = self.draft([state], [directive], [key], turn, adapter)
                    log.drafts.append(n)
                    if text:
                        yield TokenEvent(persona, text, start=True)
                    state.add_agent(persona, text, directive)
                    yield TurnEvent(persona, state.history[-1].text, directive)
                    continue
                log.drafts.append(1)
                messages = self.agent_messages(state, persona, directive)
                seed = derive_seed(self.settings.seed, key, turn, "agent")
                stream = getattr(self.backend, "stream", None)
                if stream is None:  # a backend that cannot stream gives the whole turn at once
                    pieces = iter([self.backend.generate([messages], self.settings.agent, [seed], adapter)[0].text])
                else:
                    pieces = stream(messages, self.settings.agent, seed, adapter)
                speakers, text, shown = self.speakers(state, persona), "", ""
                known = label_pattern(speakers.others)
                for piece in pieces:
                    text += piece
                    if other_voice_at(text, known) is not None:
                        break  # another speaker's line began: the turn ends before it
                    # shown up to the last finished sentence: the turn is kept up to one (tidy_reply),
                    # and another speaker's line starts only after one or a line break
                    safe = text[: max(text.rfind(c) + 1 for c in ".!?…")].strip()
                    if len(safe) > len(shown):
                        yield TokenEvent(persona, safe[len(shown) :], start=not shown)
                        shown = safe
                kept = tidy_reply(text, speakers)
                if len(kept) > len(shown):
                    yield TokenEvent(persona, kept[len(shown) :], start=not shown)
                state.add_agent(persona, kept, directive)
                yield TurnEvent(persona, state.history[-1].text, directive)
        finally:
            self.settings, self.order = saved

    def reply(self, states: Sequence[ConversationState], keys: Sequence[object] | None = None) -> list[ReplyLog]:
        """Advance every conversation by one group reply (up to ``max_turns`` agent turns).

        ``keys`` name the conversations for seeding (default: their position); the same keys,
        states and settings give the same reply.
        """
        keys = list(keys) if keys is not None else list(range(len(states)))
        logs = [ReplyLog() for _ in states]
        active = list(range(len(states)))
        for turn in range(self.settings.max_turns):
            if not active:
                break
            directives = self._directives(
                [states[i] for i in active], [logs[i] for i in active], turn, [keys[i] for i in active]
            )
            for i, directive in zip(active, directives):
                logs[i].directives.append(directive)
                logs[i].ended_by_director |= directive.ends
            drafts = self.speak([states[i] for i in active], directives, [keys[i] for i in active], turn)
            for i, n in zip(active, drafts):
                logs[i].drafts.append(n)
            active = [i for i, d in zip(active, directives) if not d.ends]
        return logs


@dataclass(frozen=True)
class DirectiveEvent:
    """The director decided: ``directive`` as used, ``raw`` as written ("" under fixed/random order)."""

    directive: Directive
    raw: str


@dataclass(frozen=True)
class TokenEvent:
    """A piece of ``persona``'s turn as it is generated (the first piece of a turn has ``start``)."""

    persona: str
    text: str
    start: bool = False


@dataclass(frozen=True)
class TurnEvent:
    """``persona``'s finished turn, as it was added to the conversation state."""

    persona: str
    text: str
    directive: Directive


StreamEvent = DirectiveEvent | TokenEvent | TurnEvent


def group_names(cards: Registry[Persona], group: Sequence[str]) -> dict[str, str]:
    """persona name → display name, for a ConversationState."""
    return {n: cards.get(n, where="group").display_name for n in group}


__all__ = [
    "END", "DirectiveEvent", "EngineSettings", "GroupEngine", "Order", "ReplyLog", "StreamEvent", "TokenEvent",
    "TurnEvent", "engine_settings", "group_names",
]  # fmt: skip
