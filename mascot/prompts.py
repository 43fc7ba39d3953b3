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
#: What the pipeline renders from ``prompts_dir`` (`mascot check` looks for each; a stage's dvc.yaml deps
#: name the ones it renders, so `dvc repro` refuses a stage whose template is missing).
PIPELINE_TEMPLATES = (
    "companion_system.jinja", "context_user.jinja", "director_system.jinja", "director_user.jinja",
    "group_system.jinja", "judge_answer.jinja", "judge_group_user.jinja", "judge_pair_user.jinja",
    "judge_system.jinja", "judge_user.jinja", "persona_system.jinja", "sft_system.jinja",
    "situation.jinja",
)  # fmt: skip
# Far above any prompt budget (max_prompt_tokens): a longer template is a pasted file, not a prompt.
MAX_TEMPLATE_CHARS = 20_000


class PromptError(ValueError):
    """A prompt template is missing or malformed; the message names the file (and the line)."""


def _environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        keep_trailing_newline=False,
        autoescape=False,
    )


def check_templates(directory: str | Path, required: tuple[str, ...] = ()) -> None:
    """Every ``*.jinja`` of ``directory`` read and compiled, and each ``required`` one present, or one
    :class:`PromptError` naming each bad file (and line). Rendering happens deep inside a stage (the
    judge's templates only after generation), so :class:`Prompts` runs this when a stage builds it."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PromptError(f"prompts_dir: folder '{directory}' does not exist")
    problems = [f"{directory / name}: missing" for name in required if not (directory / name).is_file()]
    env = _environment(directory)
    for path in sorted(directory.glob("*.jinja")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{path}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})")
            continue
        if not text.strip():
            problems.append(f"{path}: empty")
        elif len(text) > MAX_TEMPLATE_CHARS:
            problems.append(
                f"{path}: {len(text)} chars, at most {MAX_TEMPLATE_CHARS} (a prompt must fit max_prompt_tokens)"
            )
        else:
            try:
                env.compile(text, name=path.name)  # compiling also meets an unknown filter or test
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"{path}:{exc.lineno}: {exc.message}")
    if problems:
        raise PromptError(f"prompt templates in {directory}:\n  " + "\n  ".join(problems))


class Prompts:
    #: The role of another companion's turn in a companion's prompt: "user" (as AutoGen's group chat hands
    #: another agent's message to a model) or "assistant" (benchmarks/framing.py measures both).
    others: str = "user"

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        check_templates(self.directory)
        self.env = _environment(self.directory)

    def render(self, name: str, **variables: Any) -> str:
        try:
            return self.env.get_template(name).render(**variables).strip()
        except jinja2.TemplateNotFound:
            raise FileNotFoundError(f"prompt template '{self.directory / name}' not found") from None
        except jinja2.UndefinedError as exc:
            raise ValueError(f"prompt template '{self.directory / name}': {exc}") from None

    def chat_messages(
        self,
        system_template: str,
        context: Mapping[str, Any],
        history: list | None = None,
        own: str | None = None,
        **variables: Any,
    ) -> list[Message]:
        """A companion's prompt as a chat: the system message from ``system_template`` (the card, the
        situation, the instruction), then the conversation as chat turns (:func:`chat_turns`), so a chat model answers the conversation instead of
        continuing a transcript. ``own`` is the speaking companion's display name (its earlier turns
        become its assistant turns)."""
        ctx = context_vars(context, history)
        system = self.render(system_template, **ctx, **variables)
        return [{"role": "system", "content": system}, *chat_turns(ctx["history"], own, context, self.others)]

    def persona_messages(
        self,
        persona: Persona,
        context: Mapping[str, Any],
        history: list | None = None,
        instruction: str | None = None,
        template: str = "persona_system.jinja",
        **variables: Any,
    ) -> list[Message]:
        """One companion's turn: its card (``template``) and the director's ``instruction`` in the
        system message, the conversation as chat turns. Candidates, both GRPO stages, rollouts,
        evaluation and chat all ask a companion through here."""
        return self.chat_messages(
            template, context, history, own=persona.display_name, persona=persona, instruction=instruction, **variables
        )

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
        """The persona-free prompt π_SFT learns to answer with the human reference turn, in the
        companions' chat framing (the data's listener turns are its own assistant turns)."""
        return self.chat_messages("sft_system.jinja", context, history, instruction=None)


#: Speakers of the data whose turns are the group's own side of the chat: EmpatheticDialogues' listener.
GROUP_SIDE = frozenset({"companion"})
#: Speakers of the data who are the one person the group talks with (never named in a chat turn).
PERSON = frozenset({"user"})


def chat_turns(
    history: list,
    own: str | None = None,
    context: Mapping[str, Any] | None = None,
    others: str = "user",
    names: bool = False,
) -> list[Message]:
    """The conversation as chat roles, the way group-chat frameworks hand it to a model: the speaking
    companion's own earlier turns (and EmpatheticDialogues' listener's, the side the group took over)
    are ``assistant`` turns; the person's, a meeting participant's and, with ``others="user"``,
    another companion's are ``user`` turns; all plain text with no name in front (``names`` puts
    "Name: " before the others' turns, to measure it): shown "Name: text" lines, a small chat model
    writes the next line of the transcript, often as somebody else (docs/method.md, "The companions'
    framing"). A conversation that opens with the group gets the situation as its first user turn,
    so the model always answers somebody."""
    messages: list[Message] = []
    for turn in history:
        mine = turn["speaker"] == own or turn["speaker"] in GROUP_SIDE
        group = mine or (turn.get("role") == "agent" and others == "assistant")
        named = names and not mine and turn["speaker"] not in PERSON
        text = f"{turn['speaker']}: {turn['text']}" if named else turn["text"]
        messages.append({"role": "assistant" if group else "user", "content": text})
    if not messages or messages[0]["role"] != "user":
        opening = (context or {}).get("situation") or "Hello."
        messages.insert(0, {"role": "user", "content": opening})
    return messages


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
