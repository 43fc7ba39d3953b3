"""Persona cards: one YAML file per persona; adding a file adds a persona.

A card says who the agent is (name, role, description), how it behaves (rules,
style) and what it sounds like (a few example lines). The card's file stem is the
name params refer to (``the_anchor``); cards may sit in sub-folders per persona
set (``empathetic/``, ``workplace/``), and names must be unique across them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mascot.registry import Registry
from mascot.yaml_files import Text, load_yaml_model


class PersonaError(ValueError):
    """A persona card is malformed; the message names the file and the key."""


class Persona(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Identifier used in params and tables; must equal the file stem.")
    display_name: Text = Field(description="How the agent is called in the conversation, e.g. 'The Anchor'.")
    role: Text = Field(description="Short role label, e.g. 'Emotional Validator'.")
    description: Text = Field(description="Who the persona is and what it brings to the group, 1–3 sentences.")
    rules: list[Text] = Field(min_length=1, description="Behavioural rules the agent must follow.")
    style: Text = Field(description="Voice and tone.")
    examples: list[Text] = Field(default_factory=list, description="A few lines in the persona's voice.")
    color: str = Field("default", description="Display colour for chat front ends.")

    @field_validator("name", "display_name", "role", "description", "style")
    @classmethod
    def _nonblank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()


def load_card(path: Path) -> Persona:
    card = load_yaml_model(path, Persona, "persona card", PersonaError)
    if card.name != path.stem:
        raise PersonaError(f"{path}: name '{card.name}' must equal the file name '{path.stem}'")
    return card


def load_cards(directory: str | Path) -> Registry[Persona]:
    """Every card under ``directory`` (recursively) in a registry keyed by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PersonaError(f"personas.dir: folder '{directory}' does not exist")
    registry: Registry[Persona] = Registry("persona")
    seen: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.yaml")):
        card = load_card(path)
        if card.name in seen:
            raise PersonaError(f"{path}: persona '{card.name}' is already defined in {seen[card.name]}")
        seen[card.name] = path
        registry.add(card.name, card)
    return registry
