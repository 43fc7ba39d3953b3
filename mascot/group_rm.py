"""Stage 2, step 3: the group reward model — Bradley–Terry over whole blocks of companion turns.

The training and scoring machinery is the persona reward model's (:mod:`mascot.reward_model`);
what differs is the subject of the prompt: the whole group of the context's dataset (every card),
and the reply is the block's transcript, one "Name: text" line per companion turn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mascot.blocks import GROUP, group_cards
from mascot.personas import Persona
from mascot.registry import Registry
from mascot.reward_model import Resolve


def group_subjects(cards: Registry[Persona], groups: Mapping[str, Sequence[str]]) -> Resolve:
    """A block pair's subject: the group of its context's dataset (its persona column must be GROUP)."""
    by_dataset = group_cards(cards, groups)

    def resolve(name: str, ctx: Mapping, where: str) -> tuple[Persona, ...]:
        if name != GROUP:
            raise ValueError(f"{where}: persona '{name}', but a block pair belongs to the whole group ('{GROUP}')")
        if ctx["dataset"] not in by_dataset:
            raise ValueError(f"{where}: dataset '{ctx['dataset']}' has no group (personas.{ctx['dataset']} is empty)")
        return by_dataset[ctx["dataset"]]

    return resolve
