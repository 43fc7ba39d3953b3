"""A person talking with the trained group: one conversation (a :class:`Session`) over the engine
the pipeline trained (a :class:`TrainedGroup`), shared by `mascot chat` and `mascot serve`.

The engine was trained on dataset contexts (a situation, an emotion, a meeting question); a chat
gives it the same shape. The situation is the person's first message unless they state one; the
emotion is optional and, when given, must be one of EmpatheticDialogues' 32 labels the agents
learned with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from mascot.app.workspace import GroupFiles, group_files
from mascot.chat.engine import DirectiveEvent, EngineSettings, GroupEngine, StreamEvent, group_names
from mascot.chat.state import ConversationState
from mascot.config import MascotConfig, load_config
from mascot.personas import Persona, load_cards
from mascot.registry import Registry, UnknownNameError

GROUP_MODEL = "mascot-group"  # the model id of the first dataset's group; others are mascot-group-<dataset>


@dataclass
class TrainedGroup:
    """The director and agents the pipeline trained, with the params and cards they were trained with."""

    engine: GroupEngine
    cfg: MascotConfig
    cards: Registry[Persona]
    files: GroupFiles

    @classmethod
    def load(cls, repo: str | Path = ".", rev: str | None = None, device: str | None = None) -> TrainedGroup:
        from mascot.agents import Agents
        from mascot.trained_group import DIRECTOR, group_engine

        files = group_files(repo, rev)
        cfg = load_config(files.params)
        # the params' folders are relative to the repository the group was trained in
        cfg = cfg.model_copy(
            update={
                "prompts_dir": str(files.root / cfg.prompts_dir),
                "personas": cfg.personas.model_copy(update={"dir": str(files.root / cfg.personas.dir)}),
            }
        )
        cards = load_cards(cfg.personas.dir)
        agents = Agents.load(files.model("agents"))
        engine = group_engine(
            files.model("base"), files.model("sft"), agents, cards, cfg, {DIRECTOR: files.model("director")}, device
        )
        return cls(engine, cfg, cards, files)

    # ------------------------------------------------------------ what can be talked to

    def models(self) -> dict[str, tuple[str, list[str]]]:
        """Model id → (dataset, personas): ``mascot-group`` (the first dataset's group),
        ``mascot-group-<dataset>`` for each group, and each persona alone under its name."""
        out: dict[str, tuple[str, list[str]]] = {}
        for i, (dataset, personas) in enumerate(self.cfg.groups().items()):
            if i == 0:
                out[GROUP_MODEL] = (dataset, personas)
            out[f"{GROUP_MODEL}-{dataset}"] = (dataset, personas)
            for p in personas:
                out.setdefault(p, (dataset, [p]))
        return out

    def session(self, model: str = GROUP_MODEL, **context) -> Session:
        models = self.models()
        if model not in models:
            raise UnknownNameError("model", model, models)
        dataset, personas = models[model]
        return Session(self, dataset, personas, **context)


@dataclass
class Session:
    """One conversation: its state, its settings, its transcript."""

    group: TrainedGroup
    dataset: str
    personas: list[str]
    situation: str | None = None  # default: the person's first message
    emotion: str | None = None
    query: str | None = None  # qmsum: the question on the table
    seed: int | None = None  # default: params' conversation.seed
    temperature: float | None = None  # default: params' conversation.temperature
    max_new_tokens: int | None = None  # per agent turn; never above params' conversation.agent_max_new_tokens
    state: ConversationState | None = field(default=None, init=False)
    directives: list[dict] = field(default_factory=list, init=False)  # per agent turn, for the transcript

    def __post_init__(self) -> None:
        if self.emotion is not None:
            from mascot.data.valence import valence

            valence(self.emotion)  # an unknown label fails here, naming the closest one

    @property
    def single(self) -> bool:
        """A single persona answers alone, with no director."""
        return len(self.personas) == 1

    def personas_shown(self) -> list[Persona]:
        return [self.group.cards.get(p) for p in self.personas]

    def reset(self) -> None:
        self.state, self.directives = None, []

    def _context(self, first: str) -> dict:
        from mascot.data.valence import valence

        domain = valence(self.emotion) if self.emotion else "chat"
        return {
            "context_id": "chat", "dataset": self.dataset, "domain": domain, "emotion": self.emotion,
            "situation": self.situation or first, "query": self.query, "history": [],
        }  # fmt: skip

    def settings(self) -> EngineSettings:
        s = self.group.engine.settings
        if self.seed is not None:
            s = replace(s, seed=self.seed)
        if self.temperature is not None:
            s = replace(
                s, director=replace(s.director, temperature=self.temperature), agent=replace(s.agent, temperature=self.temperature)
            )  # fmt: skip
        if self.max_new_tokens is not None:
            n = min(s.agent.max_new_tokens, self.max_new_tokens)  # a request's budget lowers the floor with it
            s = replace(s, agent=replace(s.agent, max_new_tokens=n, min_new_tokens=min(s.agent.min_new_tokens, n - 1)))
        return replace(s, max_turns=1) if self.single else s

    def add_user_turn(self, text: str) -> None:
        """The person says ``text`` (the first message starts the conversation)."""
        if not text.strip():
            raise ValueError("an empty message: say something to the group")
        if self.state is None:
            names = group_names(self.group.cards, self.personas)
            self.state = ConversationState.start(self._context(text), self.personas, names)
        self.state.add_user(text)

    def send(self, text: str) -> Iterator[StreamEvent]:
        """The person says ``text``; the group's reply streams back as engine events."""
        self.add_user_turn(text)
        key = ("chat", sum(t.role == "user" for t in self.state.history))  # the n-th message seeds the n-th reply
        order = "fixed" if self.single else None
        for event in self.group.engine.stream_reply(self.state, key, self.settings(), order):
            if isinstance(event, DirectiveEvent) and not event.directive.ends:
                d = event.directive
                self.directives.append(
                    {"speaker": d.speaker, "instruction": d.instruction, "valid": d.valid, "raw": event.raw}
                )
            yield event

    def add_agent_turn(self, persona: str, text: str) -> None:
        """A past turn of the group (a client sending the conversation back)."""
        if self.state is None:
            raise ValueError("the conversation must start with the person's message")
        self.state.add_agent(persona, text, None)
        self.directives.append({})

    # ------------------------------------------------------------ transcript

    def transcript(self) -> dict:
        turns, agent_turn = [], 0
        for t in self.state.history if self.state else []:
            turn = {"speaker": t.speaker, "role": t.role, "text": t.text}
            if t.role == "agent":
                turn["name"] = self.state.display[t.speaker]
                turn["directive"] = self.directives[agent_turn] or None
                agent_turn += 1
            turns.append(turn)
        return {
            "saved": datetime.now(UTC).isoformat(timespec="seconds"),
            "group": self.personas, "dataset": self.dataset, "situation": self.state.context["situation"] if self.state else None,
            "emotion": self.emotion, "query": self.query, "revision": self.group.files.rev, "turns": turns,
        }  # fmt: skip

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """The transcript as JSON and as Markdown: ``x.json`` and ``x.md`` for any ``path`` x[.json|.md]."""
        path = Path(path)
        stem = path.with_suffix("") if path.suffix in (".json", ".md") else path
        data = self.transcript()
        json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        md_path.write_text(markdown(data), encoding="utf-8")
        return json_path, md_path


def markdown(transcript: dict) -> str:
    lines = [f"# Conversation with {', '.join(transcript['group'])}", ""]
    lines += [f"*Situation:* {transcript['situation']}"] if transcript["situation"] else []
    lines += [f"*Emotion:* {transcript['emotion']}"] if transcript["emotion"] else []
    lines += [f"*Saved:* {transcript['saved']}", ""]
    for t in transcript["turns"]:
        who = t.get("name") or ("You" if t["speaker"] == "user" else t["speaker"])
        lines += [f"**{who}:** {t['text']}", ""]
    return "\n".join(lines)
