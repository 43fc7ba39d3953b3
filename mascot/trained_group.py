"""The trained group as one conversation engine: base + π_SFT with the agents' adapters and the
director's, loaded from the pipeline's model folders or served by an OpenAI-compatible LoRA server
(``serving.*``) — rollouts, the director's check (always in-process), evaluation, chat."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mascot.agents import Agents
from mascot.chat.engine import GroupEngine, engine_settings
from mascot.config import MascotConfig
from mascot.format_reward import FormatRules
from mascot.personas import Persona
from mascot.prompts import Prompts
from mascot.registry import Registry

# the director adapters' names next to the agents' adapters on one backend
DIRECTOR = "director"  # after GRPO on the group reward (models/director)
WARM = "director_sft"  # its warm start on the directive format (models/director_sft)


def policy_backend(
    base_dir,
    sft_dir,
    agents: Agents,
    cfg: MascotConfig,
    directors: Mapping[str, str | Path] | None = None,
    device: str | None = None,
    in_process: bool = False,
):
    """Base + π_SFT (merged) with the agents' adapters and the named director adapters; without an
    adapter it speaks as π_SFT. In-process, or on the server of ``cfg.serving`` (unless ``in_process``),
    where every one of those adapters must have a served model name."""
    from mascot.llm import get_backend

    adapters = agents.paths() | {name: Path(path) for name, path in (directors or {}).items()}
    serving = cfg.serving
    if serving.backend == "openai" and not in_process:
        missing = sorted(set(adapters) - set(serving.models))
        if missing:
            raise ValueError(
                f"serving.models: no served model for adapter(s) {missing} (of {sorted(adapters)}); serve them "
                "(`mascot export-serving` prints the vLLM command) and name them there"
            )
        return get_backend("openai")(serving.endpoint, {name: serving.models[name] for name in adapters})
    return in_process_backend(base_dir, cfg, device, adapters=adapters, merge=sft_dir)


def base_backend(base_dir, cfg: MascotConfig, device: str | None = None):
    """The untrained base model: in-process, or at ``serving.base_endpoint`` when one is set."""
    from mascot.llm import get_backend

    if cfg.serving.base_endpoint is not None:
        return get_backend("openai")(cfg.serving.base_endpoint)
    return in_process_backend(base_dir, cfg, device)


def in_process_backend(base_dir, cfg: MascotConfig, device: str | None = None, **weights):
    """The transformers backend of ``base_dir`` (``weights``: its adapters and the one to merge)."""
    from mascot.llm import get_backend

    return get_backend("transformers")(
        base_dir, dtype=cfg.model.dtype, device=device or cfg.model.device, batch_size=cfg.rollouts.chunk_size,
        **weights,
    )  # fmt: skip


def group_engine(
    base_dir,
    sft_dir,
    agents: Agents,
    cards: Registry[Persona],
    cfg: MascotConfig,
    directors: Mapping[str, str | Path] | None = None,
    device: str | None = None,
    in_process: bool = False,
) -> GroupEngine:
    """The conversation engine over :func:`policy_backend`; the first of ``directors`` directs
    (switch with ``engine.director_adapter``)."""
    directors = dict(directors or {})
    backend = policy_backend(base_dir, sft_dir, agents, cfg, directors, device, in_process)
    groups = cfg.groups()
    return GroupEngine(
        backend, cards, Prompts(cfg.prompts_dir), engine_settings(cfg.conversation),
        agent_adapters={p: agents.adapter_for(p) for names in groups.values() for p in names},
        director_adapter=next(iter(directors), None), reply_rules=FormatRules(cfg.format_reward),
    )  # fmt: skip
