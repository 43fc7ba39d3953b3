"""Stage 1, step 4: the persona reward model r_φ(x, ρ, y) — Bradley–Terry over one persona's replies.

The training and scoring machinery is shared with the group reward model (:mod:`mascot.reward_model`);
what is the persona RM's own is the subject of the prompt: the card of the pair's persona, the same
persona prompt the agent read.
"""

from __future__ import annotations

from mascot.personas import Persona
from mascot.registry import Registry
from mascot.reward_model import Resolve


def persona_subjects(cards: Registry[Persona]) -> Resolve:
    """A reply pair's subject: the card its persona column names (a typo names the closest card)."""
    return lambda name, ctx, where: cards.get(name, where=where)
