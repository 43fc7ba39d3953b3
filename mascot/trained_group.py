"""The trained group as one conversation engine: base + π_SFT with the agents' adapters and the
director's, loaded from the pipeline's model folders (rollouts, the director's check, chat)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mascot.chat.engine import GroupEngine
from mascot.config import MascotConfig
from mascot.grpo_agents import Agents
from mascot.personas import Persona
from mascot.prompts import Prompts
from mascot.registry import Registry

# the director adapters' names next to the agents' adapters on one backend
DIRECTOR = "director"  # after GRPO on the group reward (models/director)
WARM = "director_sft"  # its warm start on the directive format (models/director_sft)


def policy_backend(
    base_dir, sft_dir, agents: Agents, cfg: MascotConfig, directors: Mapping[str, str | Path] | None = None,
    device: str | None = None,
):
    """The in-process backend of base + π_SFT (merged) with the agents' adapters and the named
    director adapters; without an adapter it speaks as π_SFT."""
    from mascot.llm import get_backend

    adapters = agents.paths() | {name: Path(path) for name, path in (directors or {}).items()}
    return get_backend("transformers")(
        base_dir, adapters=adapters, merge=sft_dir, dtype=cfg.model.dtype, device=device or cfg.model.device,
        batch_size=cfg.rollouts.chunk_size,
    )  # fmt: skip


def group_engine(
    base_dir, sft_dir, agents: Agents, cards: Registry[Persona], cfg: MascotConfig,
    directors: Mapping[str, str | Path] | None = None, device: str | None = None,
) -> GroupEngine:
    """The conversation engine over :func:`policy_backend`; the first of ``directors`` directs
    (switch with ``engine.director_adapter``)."""
    directors = dict(directors or {})
    backend = policy_backend(base_dir, sft_dir, agents, cfg, directors, device)
    groups = cfg.groups()
    return GroupEngine(
        backend, cards, Prompts(cfg.prompts_dir), cfg.conversation.settings(),
        agent_adapters={p: agents.adapter_for(p) for names in groups.values() for p in names},
        director_adapter=next(iter(directors), None),
    )  # fmt: skip
