"""The MBTI study: simulated users of the 16 Myers-Briggs types hold multi-turn conversations with
the group, and the judges score every agent turn; the result is a per-agent × type heatmap.

A simulated user is the base model told a personality (``configs/user_simulators/mbti.yaml``) and
the situation of a held-out context. It opens the conversation in its own words, the group
replies, the user answers, and so on for ``rounds`` group replies. Each agent turn is judged on its
dataset's agent rubric in the light of the conversation before it, exactly as the evaluate stage
judges a turn; a cell of the heatmap is the mean overall (0–100) of one agent's turns with one
type. Conversations are generated one type at a time through a record store, so a killed run
resumes with the next type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mascot.chat.engine import GroupEngine, group_names
from mascot.chat.state import USER, ConversationState
from mascot.choices import MBTI_TYPES
from mascot.eval.scoring import criterion_scores, turn_items
from mascot.judge import JudgeItem
from mascot.judge.rubric import Rubric
from mascot.llm import SamplingParams
from mascot.personas import Persona
from mascot.prompts import Prompts
from mascot.registry import Registry
from mascot.resume import RecordStore, stable_hash
from mascot.seeds import derive_seed
from mascot.yaml_files import Text, load_yaml_model


class UserSimulator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(description="The four letters, e.g. INFP.")
    title: Text = Field(min_length=1, description="A short name for the type, e.g. 'The Healer'.")
    style: Text = Field(min_length=1, description="How this person talks about what happened to them.")

    @field_validator("type")
    @classmethod
    def _four_letters(cls, v: str) -> str:
        if v not in MBTI_TYPES:
            raise ValueError(f"'{v}' is not a Myers-Briggs type (I/E, S/N, T/F, J/P, e.g. INFP)")
        return v


class SimulatorFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    simulators: list[UserSimulator] = Field(min_length=1)


def load_simulators(path: str | Path) -> tuple[Registry[UserSimulator], str]:
    """(type → simulator, the file's version); every problem named by file and key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mbti.simulators: no file at {path}")
    parsed = load_yaml_model(path, SimulatorFile, "user simulator file", ValueError)
    registry: Registry[UserSimulator] = Registry("user simulator")
    for i, sim in enumerate(parsed.simulators):
        if sim.type in registry:
            raise ValueError(f"{path}: simulators[{i}]: type {sim.type} is listed twice")
        registry.add(sim.type, sim)
    return registry, parsed.version


# ------------------------------------------------------------------ conversations


class Simulation:
    """The simulated users' side: their prompts and one batched call per round."""

    def __init__(self, backend, prompts: Prompts, params: SamplingParams, seed: int):
        self.backend, self.prompts, self.params, self.seed = backend, prompts, params, seed

    def messages(self, sim: UserSimulator, state: ConversationState) -> list[dict[str, str]]:
        """The simulated user's prompt in the companions' chat framing, seen from the other side: its
        own earlier messages are its assistant turns, the companions' turns its user turns; the
        group's opening question (``turn.jinja``) starts the chat."""
        ctx = state.context
        system = self.prompts.render("system.jinja", sim=sim, situation=ctx["situation"], emotion=ctx.get("emotion"))
        chat = [{"role": "assistant" if t.role == USER else "user", "content": t.text} for t in state.history]
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": self.prompts.render("turn.jinja")},
            *chat,
        ]

    def speak(self, sims: Sequence[UserSimulator], states: Sequence[ConversationState], keys: Sequence[object]) -> None:
        seeds = [derive_seed(self.seed, key, len(state.history), "user") for key, state in zip(keys, states)]
        gens = self.backend.generate([self.messages(s, st) for s, st in zip(sims, states)], self.params, seeds)
        for state, gen in zip(states, gens):
            state.add_user(clean_user_text(gen.text))


_SPEAKER_PREFIX = re.compile(r"^\s*(?:you|me|user|person)\s*:\s*", re.I)


def clean_user_text(text: str) -> str:
    """The simulated user's message as the group sees it: a leading "You:" label dropped, and a
    blank message replaced by an ellipsis (a person who says nothing still gets a reply)."""
    text = _SPEAKER_PREFIX.sub("", text.strip()).strip()
    return text or "…"


def converse(
    engine: GroupEngine, simulation: Simulation, sims: Sequence[UserSimulator], contexts: pl.DataFrame,
    cards: Registry[Persona], groups: Mapping[str, Sequence[str]], rounds: int, store: RecordStore, fingerprint: str,
    progress: Callable[..., None] = lambda done, total, fresh=True: None,
) -> pl.DataFrame:  # fmt: skip
    """Every simulator with every context: the user opens, then ``rounds`` × (group reply, user
    answer), the last user answer left out. One row per turn: type, context_id, position, round,
    role (user / agent), speaker, text."""
    rows, used = [], []
    for done, sim in enumerate(sims, 1):
        key = stable_hash(fingerprint, sim.model_dump(), contexts["context_id"].to_list(), rounds)
        used.append(key)
        fresh = key not in store
        if fresh:
            states, keys = [], []
            for ctx in contexts.iter_rows(named=True):
                group = list(groups[ctx["dataset"]])
                states.append(ConversationState.start(ctx | {"history": []}, group, group_names(cards, group)))
                keys.append(("mbti", sim.type, ctx["context_id"]))
            simulation.speak([sim] * len(states), states, keys)
            for r in range(rounds):
                engine.reply(states, [(*k, r) for k in keys])
                if r + 1 < rounds:
                    simulation.speak([sim] * len(states), states, keys)
            store.put_many([(key, [turn_rows(sim.type, st) for st in states])])
        rows += [row for conversation in store.get(key) for row in conversation]
        progress(done, len(sims), fresh)
    store.compact(used)
    return pl.DataFrame(rows, schema_overrides={"position": pl.Int64, "round": pl.Int64})


def turn_rows(sim_type: str, state: ConversationState) -> list[dict]:
    out, r = [], -1
    for position, t in enumerate(state.history):
        r += t.role == USER  # a round begins with the user's message
        out.append({"type": sim_type, "context_id": state.context["context_id"], "position": position, "round": r,
                    "role": t.role, "speaker": t.speaker, "text": t.text})  # fmt: skip
    return out


# ------------------------------------------------------------------ judging and the heatmap


def judge_items(conversations: pl.DataFrame, contexts: pl.DataFrame, cards: Registry[Persona],
                rubrics: Mapping[str, Rubric]) -> list[JudgeItem]:  # fmt: skip
    """Each agent turn, judged as that persona's reply to the conversation before it."""
    by_id = {c["context_id"]: c for c in contexts.iter_rows(named=True)}
    items = []
    for (sim_type, context_id), turns in conversations.sort("type", "context_id", "position").group_by(
        "type", "context_id", maintain_order=True
    ):
        items += turn_items(turns.iter_rows(named=True), by_id[context_id], [], cards, rubrics,
                            lambda t, k=f"mbti|{sim_type}|{context_id}": f"{k}|{t['position']}",
                            where="mbti conversations speaker")  # fmt: skip
    return items


def turn_scores(judgments: pl.DataFrame) -> pl.DataFrame:
    """Per judged agent turn: type, position, one 0–100 column per criterion (mean over judges) and
    ``overall`` (their mean)."""
    wide = criterion_scores(judgments.filter(pl.col("candidate_id").str.starts_with("mbti|")))
    criteria = [c for c in wide.columns if c != "candidate_id"]
    return wide.with_columns(
        type=pl.col("candidate_id").str.split("|").list.get(1),
        context_id=pl.col("candidate_id").str.split("|").list.get(2),
        position=pl.col("candidate_id").str.split("|").list.get(3).cast(pl.Int64),
        overall=pl.mean_horizontal(criteria),
    )


def heatmap(conversations: pl.DataFrame, scores: pl.DataFrame, display: Mapping[str, str]) -> pl.DataFrame:
    """type × agent: the mean overall of that agent's turns with that type, and how many turns."""
    turns = conversations.filter(pl.col("role") == "agent").join(scores, on=["type", "context_id", "position"])
    cells = turns.group_by("type", "speaker").agg(
        overall=pl.col("overall").mean().round(2), turns=pl.len().cast(pl.Int64)
    )
    return cells.with_columns(agent=pl.col("speaker").replace_strict(display, default=pl.col("speaker"))).sort(
        "type", "agent"
    )


def study_metrics(conversations: pl.DataFrame, scores: pl.DataFrame, cells: pl.DataFrame) -> dict:
    """Flat keys for `dvc metrics diff`: ``{type}.{persona}.overall`` (and ``.turns``), each type's
    and each persona's mean over its turns, the spread of the types' means (max − min), and the
    simulated users' words per message."""
    out: dict = {}
    for row in cells.iter_rows(named=True):
        out[f"{row['type']}.{row['speaker']}.overall"] = row["overall"]
        out[f"{row['type']}.{row['speaker']}.turns"] = row["turns"]
    turns = conversations.filter(pl.col("role") == "agent").join(scores, on=["type", "context_id", "position"])
    criteria = [c for c in scores.columns if c not in ("candidate_id", "type", "context_id", "position")]
    for by in ("type", "speaker"):
        for row in turns.group_by(by).agg(*[pl.col(c).mean() for c in criteria]).sort(by).iter_rows(named=True):
            out |= {f"{row[by]}.{c}": round(row[c], 2) for c in criteria if row[c] is not None}
    per_type = [out[f"{t}.overall"] for t in sorted(set(turns["type"])) if f"{t}.overall" in out]
    if per_type:
        out["types_spread.overall"] = round(max(per_type) - min(per_type), 2)
    users = conversations.filter(pl.col("role") == USER)["text"]
    out["user_words_per_message"] = round(float(users.str.split(" ").list.len().mean()), 2) if users.len() else 0.0
    out |= {"types": conversations["type"].n_unique(), "conversations": conversations.select("type", "context_id").n_unique(),
            "agent_turns": turns.height}  # fmt: skip
    return out
