"""Stage 1, step 5: the persona agents, optimised with GRPO on persona-RM reward + format reward.

The policy is π_SFT (the SFT adapter merged into the base) plus a new LoRA; GRPO samples a group
of G replies per (context, persona) prompt, scores each with the composite reward and pushes the
adapter towards the better replies of the group. The saved folder holds one adapter
(``shared``) or one per persona, and ``mascot_agents.json`` says which persona uses which.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from mascot.agents import AGENTS_META, SHARED, Agents, load_policy
from mascot.config import MascotConfig
from mascot.data.sampling import sample_contexts
from mascot.format_reward import RULES, FormatRules
from mascot.llm import Message, SamplingParams
from mascot.personas import Persona
from mascot.prompts import Prompts, fit_history
from mascot.registry import Registry
from mascot.reward_model import RewardModel
from mascot.rewards import FormatReward, PersonaRMReward
from mascot.seeds import derive_seed
from mascot.stats import gain_metrics, paired_gains, run_ends

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- prompts


def agent_prompts(
    contexts: pl.DataFrame,
    cards: Registry[Persona],
    groups: Mapping[str, list[str]],
    prompts: Prompts,
    count_tokens: Callable[[list[Message]], int],
    max_prompt_tokens: int,
) -> list[dict]:
    """One conversational prompt per (context, persona of its dataset), fitted to the token cap:
    exactly what the candidates stage asked π_SFT, so the RM judges replies to familiar prompts."""
    rows = []
    for ctx in contexts.iter_rows(named=True):
        for name in groups[ctx["dataset"]]:
            persona = cards.get(name, where=f"personas.{ctx['dataset']}")
            messages = fit_history(
                lambda h, persona=persona, ctx=ctx: prompts.persona_messages(persona, ctx, h),
                ctx["history"], count_tokens, max_prompt_tokens,
            )  # fmt: skip
            rows.append({"prompt": messages, "context_id": ctx["context_id"], "persona": name})
    return rows


# --------------------------------------------------------------------------- training


def train_agents(
    base_dir: str | Path,
    sft_dir: str | Path | None,
    rm_dir: str | Path,
    contexts: pl.DataFrame,
    cards: Registry[Persona],
    cfg: MascotConfig,
    out_dir: str | Path,
    live_dir: str | Path,
    callbacks: Sequence[Any] = (),
) -> dict | None:
    """Train the adapter(s), save them to ``out_dir``; return metrics (None on non-main processes).
    ``callbacks`` are extra transformers TrainerCallbacks (benchmarks time the steps with one)."""
    from datasets import Dataset
    from transformers import AutoTokenizer, set_seed
    from trl import GRPOTrainer

    from mascot.tracking import LiveCurves, grpo_args, lora_config

    g = cfg.grpo_agents
    prompts = Prompts(cfg.prompts_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def count(messages):
        return len(
            tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=True)[
                "input_ids"
            ]
        )

    train_contexts = sample_contexts(contexts.filter(pl.col("split") == g.split), g.contexts_per_domain, g.seed)
    rows = agent_prompts(train_contexts, cards, cfg.groups(), prompts, count, g.max_prompt_tokens)
    if not rows:
        raise ValueError(f"grpo_agents.split: no '{g.split}' contexts to train on; add it to ingest.splits")
    by_id = {r["context_id"]: r for r in contexts.iter_rows(named=True)}
    rm = RewardModel.load(rm_dir, device="cpu" if g.use_cpu else "auto", prompts_dir=cfg.prompts_dir, kind="persona")
    rewards = [
        PersonaRMReward(rm, by_id, cards, standardize=g.standardize_persona_rm),
        FormatReward(FormatRules(cfg.format_reward), by_id, cards, cfg.groups(), _eos_ids(base_dir, tokenizer)),
    ]
    if g.adapter == SHARED:
        plan = {SHARED: rows}
    else:
        plan = {name: [r for r in rows if r["persona"] == name] for name in sorted({r["persona"] for r in rows})}

    out_dir, live_dir = Path(out_dir), Path(live_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    per_adapter: dict[str, dict] = {}
    main, processes = True, 1
    for name, examples in plan.items():
        set_seed(g.seed)
        scratch = tempfile.mkdtemp(prefix="mascot-grpo-")
        policy = load_policy(base_dir, sft_dir)
        trainer = GRPOTrainer(
            model=policy,
            reward_funcs=rewards,
            args=grpo_args(g, scratch, [f.__name__ for f in rewards], g.max_completion_length),
            train_dataset=Dataset.from_list(examples),
            processing_class=tokenizer,
            peft_config=lora_config(g.lora, "CAUSAL_LM", policy),
            callbacks=[LiveCurves(live_dir / name), *callbacks],
        )
        result = trainer.train()
        trainer.save_model(str(out_dir / name))  # the adapter only; written by the main process
        main, processes = trainer.accelerator.is_main_process, trainer.accelerator.num_processes
        trainable, total = trainer.model.get_nb_trainable_parameters()
        start, end = run_ends([h["reward"] for h in trainer.state.log_history if "reward" in h])
        per_adapter[name] = {
            "prompts": len(examples),
            "steps": result.global_step,
            "reward_start": start,
            "reward_end": end,
            "trainable_params": trainable,
            "trainable_pct": round(100 * trainable / total, 4),
        }
        log.info(
            "grpo_agents[%s]: %d steps in %.1f s on %d process(es) (%s)", name, result.global_step,
            result.metrics.get("train_runtime", 0.0), processes, trainer.accelerator.distributed_type,
        )  # fmt: skip
        shutil.rmtree(scratch, ignore_errors=True)
        del trainer
    if not main:
        return None
    adapters = {r["persona"]: (SHARED if g.adapter == SHARED else r["persona"]) for r in rows}
    meta = {
        "mode": g.adapter,
        "adapters": dict(sorted(adapters.items())),
        "base": str(base_dir),
        "sft": str(sft_dir) if sft_dir else None,
        "persona_rm": str(rm_dir),
        "prompts_dir": cfg.prompts_dir,
        "max_prompt_tokens": g.max_prompt_tokens,
        "max_completion_length": g.max_completion_length,
    }
    (out_dir / AGENTS_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    first = next(iter(per_adapter.values()))
    metrics: dict[str, Any] = {
        "adapters": len(per_adapter),
        "train_prompts": len(rows),
        "processes": processes,
        "steps": sum(a["steps"] for a in per_adapter.values()),
        "trainable_params": first["trainable_params"],
        "trainable_pct": first["trainable_pct"],
    }
    for name, a in per_adapter.items():
        prefix = "train" if g.adapter == SHARED else f"train.{name}"
        metrics[f"{prefix}.reward_start"], metrics[f"{prefix}.reward_end"] = a["reward_start"], a["reward_end"]
    return metrics


def _eos_ids(base_dir: str | Path, tokenizer: Any) -> list[int]:
    """The ids GRPO stops at (the tokenizer's EOS and the generation config's), as TRL gathers them."""
    from transformers import GenerationConfig

    ids = {tokenizer.eos_token_id}
    try:
        gen = GenerationConfig.from_pretrained(base_dir).eos_token_id
    except OSError:
        gen = None
    ids.update(gen if isinstance(gen, list) else [gen])
    return sorted(i for i in ids if i is not None)


# --------------------------------------------------------------------------- before / after


def compare_agents(
    base_dir: str | Path,
    sft_dir: str | Path | None,
    agents: Agents,
    rm: RewardModel,
    contexts: pl.DataFrame,
    cards: Registry[Persona],
    cfg: MascotConfig,
) -> tuple[pl.DataFrame, dict]:
    """The same held-out prompts and seeds through π_SFT (adapters off) and the GRPO agents.

    Returns one row per reply and policy, and the metrics: mean persona-RM reward and format pass
    rate before and after, each difference with a bootstrap interval over (context, persona)
    units (the samples of one prompt are averaged first, since they are not independent).
    """
    from mascot.llm import get_backend

    check = cfg.grpo_agents.check
    held = sample_contexts(contexts.filter(pl.col("split") == check.split), check.contexts_per_domain, check.seed)
    if held.is_empty():
        raise ValueError(f"grpo_agents.check.split: no '{check.split}' contexts; add it to ingest.splits")
    backend = get_backend("transformers")(
        base_dir, adapters=agents.paths(), merge=sft_dir, dtype=cfg.model.dtype, device=cfg.model.device,
        batch_size=check.batch_size,
    )  # fmt: skip
    params = check_params(cfg)
    out = []
    for adapter, reqs in check_requests(held, cards, cfg, agents, backend.count_tokens).items():
        for policy, active in (("before", None), ("after", adapter)):
            gens = backend.generate([r["prompt"] for r in reqs], params, [r["seed"] for r in reqs], adapter=active)
            out += [{**r, "policy": policy, "gen": gen} for r, gen in zip(reqs, gens)]
    by_id = {r["context_id"]: r for r in held.iter_rows(named=True)}
    texts = [o["gen"].text for o in out]
    personas = [o["persona"] for o in out]
    rm_scores = rm.score([by_id[o["context_id"]] for o in out], [cards.get(p) for p in personas], texts)
    verdicts = FormatReward(FormatRules(cfg.format_reward), by_id, cards, cfg.groups(), []).verdicts(
        texts,
        [o["gen"].completion_tokens for o in out],
        [o["gen"].finish_reason == "length" for o in out],
        [o["context_id"] for o in out],
        personas,
        [o["prompt"][0]["content"] for o in out],
    )
    table = pl.DataFrame(
        [
            {
                "context_id": o["context_id"],
                "dataset": by_id[o["context_id"]]["dataset"],
                "domain": by_id[o["context_id"]]["domain"],
                "persona": o["persona"],
                "sample_idx": o["sample_idx"],
                "seed": o["seed"],
                "policy": o["policy"],
                "response": o["gen"].text,
                "completion_tokens": o["gen"].completion_tokens,
                "finish_reason": o["gen"].finish_reason,
                "persona_rm": float(score),
                "format_reward": float(v.reward),
                "format_pass": v.passed,
                "format_failed": ",".join(v.failed()),
            }
            for o, score, v in zip(out, rm_scores, verdicts)
        ],
        schema_overrides={"sample_idx": pl.Int64, "seed": pl.Int64, "completion_tokens": pl.Int64},
    ).sort("context_id", "persona", "sample_idx", "policy")
    return table, check_metrics(table, check.bootstrap_resamples, check.confidence, check.seed)


def check_params(cfg: MascotConfig) -> SamplingParams:
    check = cfg.grpo_agents.check
    return SamplingParams(
        temperature=check.temperature, top_p=check.top_p, max_new_tokens=cfg.grpo_agents.max_completion_length
    )


def check_requests(
    held: pl.DataFrame, cards: Registry[Persona], cfg: MascotConfig, agents: Agents, count_tokens
) -> dict[str, list[dict]]:
    """The comparison's prompts with their seeds, grouped by adapter: one generate call per group,
    the same call before and after, so batches (and with them the sampling seeds) match."""
    g, check = cfg.grpo_agents, cfg.grpo_agents.check
    rows = agent_prompts(held, cards, cfg.groups(), Prompts(cfg.prompts_dir), count_tokens, g.max_prompt_tokens)
    by_adapter: dict[str, list[dict]] = {}
    for r in rows:
        for s in range(check.samples):
            seed = derive_seed(check.seed, r["context_id"], r["persona"], s)
            by_adapter.setdefault(agents.adapter_for(r["persona"]), []).append({**r, "sample_idx": s, "seed": seed})
    return by_adapter


def check_metrics(table: pl.DataFrame, resamples: int, confidence: float, seed: int) -> dict:
    """Before/after means and the interval of each after − before difference, per (context, persona)."""
    columns = ("persona_rm", "format_pass", "format_reward")
    gains = paired_gains(table, ("context_id", "persona"), columns, resamples, confidence, seed)
    metrics: dict[str, Any] = {"check_prompts": table.select("context_id", "persona").unique().height,
                               "check_replies": table.height // 2}  # fmt: skip
    for column in columns:
        before = table.filter(pl.col("policy") == "before")[column].cast(pl.Float64).mean()
        after = table.filter(pl.col("policy") == "after")[column].cast(pl.Float64).mean()
        name = "format_pass_rate" if column == "format_pass" else column
        metrics |= {f"{name}_before": round(before, 4), f"{name}_after": round(after, 4)}
        metrics |= gain_metrics(name, gains[column])
    for policy in ("before", "after"):
        part = table.filter(pl.col("policy") == policy)
        metrics[f"mean_completion_tokens_{policy}"] = round(part["completion_tokens"].mean(), 2)
        metrics[f"truncated_rate_{policy}"] = round((part["finish_reason"] == "length").mean(), 4)
        for rule in RULES:
            failed = part["format_failed"].str.split(",").list.contains(rule).mean()
            metrics[f"format_fail.{rule}_{policy}"] = round(failed, 4)
    metrics["confidence"] = confidence
    return metrics
