"""The systems an evaluation compares, chosen by name from a registry: MASCOT, its ablations and
the paper's baselines, each a way of running the one conversation engine.

| name | weights | agents' adapters | who speaks next | agent prompt |
|---|---|---|---|---|
| ``mascot`` | π_SFT | GRPO agents | the trained director | persona card |
| ``mascot_p`` | π_SFT | GRPO agents | the trained director | name only (persona prompting removed) |
| ``mascot_c`` | π_SFT | GRPO agents | random (seeded) | persona card |
| ``sft`` | π_SFT | none | the group's order | persona card |
| ``zero_shot`` | base model | none | the group's order | persona card without its example lines |
| ``zero_shot_cot`` | base model | none | the group's order | as zero_shot, reasoning first (hidden) |
| ``few_shot`` | base model | none | the group's order | persona card with its example lines |
| ``few_shot_cot`` | base model | none | the group's order | as few_shot, reasoning first (hidden) |
| ``self_consistency`` | base model | none | the group's order | as few_shot; n samples per turn, the medoid kept |
| ``multiagent_esc`` | base model | none | the group's order | as few_shot; analysis, strategies, vote, reflection |
| ``single`` | π_SFT | none | one reply, no group | π_SFT's own prompt, no persona |

Every system answers the same contexts with the same seeds per (context, sample), through
:class:`~mascot.chat.engine.GroupEngine`, so differences come from the system alone. The prompting
baselines run on the base model, as the paper's run on its backbone; ``sft`` is the supervised
model the agents start from. ``single`` is the reference a group must beat: π_SFT asked exactly
as it was trained (the listener's or the next meeting participant's reply), under a reference
card so the judges' persona criteria have something to read. The reasoning, self-consistency and
MultiAgentESC wrappers are in :mod:`mascot.eval.backends`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mascot.chat.engine import GroupEngine, Order, engine_settings
from mascot.eval.backends import HiddenReasoning, MultiAgentESC, SelfConsistency
from mascot.format_reward import FormatRules
from mascot.personas import Persona
from mascot.prompts import SFT_SPEAKER, Prompts
from mascot.registry import Registry
from mascot.trained_group import DIRECTOR, base_backend, policy_backend

PERSONA_TEMPLATE = "persona_system.jinja"
NAME_ONLY_TEMPLATE = "companion_system.jinja"
SFT_TEMPLATE = "sft_system.jinja"


@dataclass(frozen=True)
class System:
    name: str
    description: str
    weights: Literal["base", "sft"]  # the base model alone, or π_SFT (base + the merged SFT adapter)
    agents: bool  # the agents speak with their GRPO adapters
    order: Order  # "director" uses the trained director
    agent_template: str = PERSONA_TEMPLATE  # the agent's system prompt
    single: bool = False  # one reply by a reference speaker instead of the group
    examples: bool = True  # the persona card's example lines in the agent's prompt (few-shot)
    wrapper: str | None = None  # a name in WRAPPERS: how each agent turn is produced from the backend


# How a prompting baseline produces each agent turn from the backend: name → (backend, evaluate
# config) → wrapped backend.
WRAPPERS: Registry = Registry("backend wrapper")
WRAPPERS.add("hidden_reasoning", lambda backend, ev: HiddenReasoning(backend, ev.reasoning_tokens))
WRAPPERS.add(
    "multiagent_esc",
    lambda backend, ev: MultiAgentESC(backend, ev.multiagent_esc_strategies, ev.multiagent_esc_agents, ev.multiagent_esc_analysis_tokens),
)  # fmt: skip


def _self_consistency(backend, ev):
    from mascot.embeddings import load_embedder

    return SelfConsistency(backend, ev.self_consistency_samples, load_embedder(ev.embedder))


WRAPPERS.add("self_consistency", _self_consistency)


SYSTEMS: Registry[System] = Registry("evaluation system")
for _s in (
    System("mascot", "GRPO agents directed by the GRPO director", "sft", True, "director"),
    System("mascot_p", "MASCOT with the persona cards taken out of the agents' prompts", "sft", True, "director",
           NAME_ONLY_TEMPLATE),
    System("mascot_c", "MASCOT's agents in a random speaking order instead of the director", "sft", True, "random"),
    System("sft", "π_SFT speaking each persona from its card, in the group's order", "sft", False, "fixed"),
    System("zero_shot", "the base model speaking each persona from its card (no example lines), in the group's order",
           "base", False, "fixed", examples=False),
    System("zero_shot_cot", "zero_shot, each agent reasoning first (hidden from the person)", "base", False, "fixed",
           examples=False, wrapper="hidden_reasoning"),
    System("few_shot", "the base model speaking each persona from its card with its example lines", "base", False, "fixed"),
    System("few_shot_cot", "few_shot, each agent reasoning first (hidden from the person)", "base", False, "fixed",
           wrapper="hidden_reasoning"),
    System("self_consistency", "few_shot with several samples per turn, the most consistent kept", "base", False, "fixed",
           wrapper="self_consistency"),
    System("multiagent_esc", "MultiAgentESC: analysis, strategy deliberation, a response per strategy, a vote and a "
           "self-reflection for each turn of the few_shot prompt", "base", False, "fixed", wrapper="multiagent_esc"),
    System("single", "π_SFT alone, one reply as it was trained, no personas", "sft", False, "fixed", SFT_TEMPLATE, True),
):  # fmt: skip
    SYSTEMS.add(_s.name, _s)


def reference_cards() -> dict[str, Persona]:
    """dataset → the card of the ``single`` system's speaker (π_SFT's training speaker)."""
    cards = {}
    for dataset, speaker in SFT_SPEAKER.items():
        name = "reference_" + speaker.removeprefix("the ").replace(" ", "_")
        cards[dataset] = Persona(
            name=name, display_name=speaker, role="reference without a persona",
            description="One plain reply from the supervised model, as it was trained; no persona, no group.",
            rules=["Reply to the latest message."], style="Whatever the supervised model writes.",
        )  # fmt: skip
    return cards


class EvalEngines:
    """The engines of every system over at most two in-process backends: the base model alone, and
    π_SFT with the agents' and the director's adapters (loaded once, shared by the systems)."""

    def __init__(
        self, base_dir, sft_dir, agents, director_dir, cards: Registry[Persona], cfg, device: str | None = None
    ):
        self.base_dir, self.sft_dir, self.agents, self.director_dir = base_dir, sft_dir, agents, director_dir
        self.cfg, self.device = cfg, device or cfg.model.device
        self.cards = Registry[Persona]("persona")
        for name in cards:
            self.cards.add(name, cards.get(name))
        self.references = reference_cards()
        for card in self.references.values():
            self.cards.add(card.name, card)
        self.prompts = Prompts(cfg.prompts_dir)
        self._backends: dict[str, object] = {}
        self.wrappers: dict[str, object] = {}  # per wrapped system, for its format rates

    def backend(self, weights: str):
        if weights not in self._backends:
            if weights == "base":
                self._backends[weights] = base_backend(self.base_dir, self.cfg, self.device)
            else:
                self._backends[weights] = policy_backend(
                    self.base_dir, self.sft_dir, self.agents, self.cfg, {DIRECTOR: self.director_dir}, self.device
                )
        return self._backends[weights]

    def release(self) -> None:
        """Drop the loaded models (the engines made so far stop working)."""
        self._backends.clear()
        self.wrappers.clear()

    def groups(self, system: System) -> Mapping[str, list[str]]:
        """dataset → who speaks for ``system``."""
        if system.single:
            return {ds: [self.references[ds].name] for ds in self.cfg.groups()}
        return self.cfg.groups()

    def engine(self, system: System) -> GroupEngine:
        settings = engine_settings(self.cfg.conversation)
        if system.single:
            from dataclasses import replace

            settings = replace(settings, max_turns=1)
        agent_adapters = {}
        if system.agents:
            agent_adapters = {p: self.agents.adapter_for(p) for ps in self.cfg.groups().values() for p in ps}
        backend = self.backend(system.weights)
        if system.wrapper:
            if system.name not in self.wrappers:
                self.wrappers[system.name] = WRAPPERS.get(system.wrapper)(backend, self.cfg.evaluate)
            backend = self.wrappers[system.name]
        return GroupEngine(
            backend, self.cards, self.prompts, settings, agent_adapters=agent_adapters,
            director_adapter=DIRECTOR if system.order == "director" else None, order=system.order,
            agent_template=system.agent_template, agent_vars={"with_examples": system.examples},
            reply_rules=FormatRules(self.cfg.format_reward),
        )  # fmt: skip

    def format_rates(self) -> dict[str, float]:
        """``{system}.{what}_format_rate``: per wrapped system, how often the model gave the format
        its method asks for (a closed reasoning, a strategy name, a vote), over this run's calls."""
        return {
            f"{name}.{what}": rate
            for name, w in self.wrappers.items() for what, rate in w.format_rates().items() if rate == rate
        }  # fmt: skip
