"""Chat prompts rendered from the Jinja templates in ``configs/prompts``.

Templates live in files so a user can change the wording without touching code,
and so DVC re-runs exactly the stages whose prompts changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from mascot.personas import Persona

Message = dict[str, str]

SFT_SPEAKER = {"empathetic_dialogues": "the listener", "qmsum": "the next participant"}


class Prompts:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileNotFoundError(f"prompts_dir: folder '{self.directory}' does not exist")
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
            keep_trailing_newline=False,
            autoescape=False,
        )

    def render(self, name: str, **variables: Any) -> str:
        try:
            return self.env.get_template(name).render(**variables).strip()
        except jinja2.TemplateNotFound:
            raise FileNotFoundError(f"prompt template '{self.directory / name}' not found") from None
        except jinja2.UndefinedError as exc:
            raise ValueError(f"prompt template '{self.directory / name}': {exc}") from None

    def persona_messages(self, persona: Persona, context: Mapping[str, Any], history: list | None = None) -> list[Message]:
        """System = the persona card; user = the context and what to write."""
        variables = context_vars(context, history)
        return [
            {"role": "system", "content": self.render("persona_system.jinja", persona=persona, **variables)},
            {"role": "user", "content": self.render("context_user.jinja", speaker=persona.display_name, **variables)},
        ]

    def group_messages(
        self, personas: tuple[Persona, ...], context: Mapping[str, Any], history: list | None = None
    ) -> list[Message]:
        """System = the whole group and its roles; user = the context. What the group reward model
        reads before a block (the group's reply, one "Name: text" line per companion turn)."""
        variables = context_vars(context, history)
        return [
            {"role": "system", "content": self.render("group_system.jinja", personas=personas, **variables)},
            {"role": "user", "content": self.render("context_user.jinja", speaker="the group", **variables)},
        ]

    def subject_messages(self, subject: Persona | tuple[Persona, ...], context: Mapping[str, Any], history=None):
        """The prompt of one persona, or of a whole group (a tuple of its cards)."""
        if isinstance(subject, Persona):
            return self.persona_messages(subject, context, history)
        return self.group_messages(subject, context, history)

    def sft_messages(self, context: Mapping[str, Any], history: list | None = None) -> list[Message]:
        """The persona-free prompt π_SFT learns to answer with the human reference turn."""
        variables = context_vars(context, history)
        speaker = SFT_SPEAKER[context["dataset"]]
        return [
            {"role": "system", "content": self.render("sft_system.jinja", **variables)},
            {"role": "user", "content": self.render("context_user.jinja", speaker=speaker, **variables)},
        ]


def context_vars(context: Mapping[str, Any], history: list | None) -> dict[str, Any]:
    return {
        "dataset": context["dataset"],
        "domain": context["domain"],
        "emotion": context.get("emotion"),
        "situation": context["situation"],
        "history": list(context["history"] if history is None else history),
        "query": context.get("query"),
    }


def fit_history(
    build: Callable[[list], list[Message]], history: list, count_tokens: Callable[[list[Message]], int], max_tokens: int
) -> list[Message]:
    """Drop the oldest history turns until the prompt fits ``max_tokens``; the
    latest turn is always kept because it is what the reply answers."""
    start = 0
    while True:
        messages = build(history[start:])
        if count_tokens(messages) <= max_tokens or start >= len(history) - 1:
            return messages
        start += 1
