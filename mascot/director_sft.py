"""Stage 2, step 0: the director's warm start — a LoRA taught the directive format by SFT.

A 135M model never writes the strict two-line directive zero-shot (measured: 0 of 8 states on the
offline default), and GRPO cannot learn from a group whose completions all fail the same way (the
fallback makes their blocks identical, so every advantage is zero). So before the rollouts the
director's LoRA is warm-started on states with known-good directives, the way a larger
instruction-tuned director would start. The targets are a rule-based teacher, documented here:

- states: a training context with 0 … max_turns − 1 earlier companion turns, taken from the
  candidates table (real π_SFT replies of the group's personas, a different persona per turn);
- speaker: every persona of the group who has not spoken yet in this reply, one example each, so the
  examples carry the teacher's uniform choice among them, not one draw of it per state;
- instruction: one of that persona's card rules, drawn with a seed (a role-true instruction);
- END (instead of the speakers) with probability ``end_rate`` once at least two companions have spoken.

The teacher only fixes the format and a role-true distribution of choices; which speaker and which
instruction serve the conversation is what GRPO on the group reward learns next.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from mascot.chat.directive import END, Directive
from mascot.chat.engine import GroupEngine, engine_settings, group_names
from mascot.chat.state import ConversationState
from mascot.config import MascotConfig
from mascot.personas import Persona
from mascot.prompts import Prompts
from mascot.registry import Registry
from mascot.resume import stable_hash

log = logging.getLogger(__name__)

WARM_META = "mascot_director_sft.json"


def teacher_examples(
    contexts: pl.DataFrame,
    candidates: pl.DataFrame,
    engine: GroupEngine,
    groups: Mapping[str, Sequence[str]],
    variants: int,
    end_rate: float,
    seed: int,
) -> list[dict]:
    """Prompt-completion examples: a director state → the teacher's directive (see module doc)."""
    cards, max_turns = engine.cards, engine.settings.max_turns
    replies: dict[tuple[str, str], list[str]] = {}
    for row in candidates.select("context_id", "persona", "response").iter_rows(named=True):
        if row["response"].strip():
            replies.setdefault((row["context_id"], row["persona"]), []).append(row["response"])
    rows = []
    for ctx in contexts.sort("context_id").iter_rows(named=True):
        group = list(groups[ctx["dataset"]])
        speakable = [p for p in group if (ctx["context_id"], p) in replies]
        for n_before in range(max_turns):
            for v in range(variants):
                rng = random.Random(stable_hash(seed, ctx["context_id"], n_before, v))
                if len(speakable) < n_before:
                    continue
                state = ConversationState.start(ctx, group, group_names(cards, group))
                for persona in rng.sample(speakable, n_before):
                    state.add_agent(persona, rng.choice(replies[(ctx["context_id"], persona)]), None)
                silent = [p for p, n in state.spoken_this_reply().items() if n == 0]
                if n_before >= 2 and rng.random() < end_rate or not silent:
                    targets = [f"Speaker: {END}"]
                else:  # every silent persona, each with one of its rules: the teacher's whole choice
                    targets = [Directive(p, rng.choice(cards.get(p).rules)).render() for p in silent]
                prompt = engine.director_messages(state)
                rows += [{"prompt": prompt, "completion": [{"role": "assistant", "content": t}], "state": state}
                         for t in targets]  # fmt: skip
    return rows


def odd_first_tokens(tokenizer: Any, names: Sequence[str]) -> dict[str, str]:
    """The names of a group whose first token (as the director writes " <name>") differs from the one
    most of the group starts with: {name: its first token}. A 135M warm start named such a companion
    about a tenth as often as the others (``action_guide`` beside three ``the_…``: 0.03 against 0.32)."""
    first = {n: tokenizer.convert_tokens_to_string(tokenizer.tokenize(f" {n}")[:1]) for n in names}
    common = max(set(first.values()), key=list(first.values()).count)
    if list(first.values()).count(common) < 2:
        return {}
    return {n: t for n, t in first.items() if t != common}


def check_lengths(examples: Sequence[dict], count_tokens: Any, max_length: int) -> None:
    """Stop before training when an example would not fit ``max_length``: SFT cuts sequences from the
    right, so the directive (and its end-of-turn token) is what it would silently drop."""
    sizes = [(count_tokens(e["prompt"] + e["completion"]), e) for e in examples]
    over = [(n, e) for n, e in sizes if n > max_length]
    if over:
        n, e = max(over, key=lambda x: x[0])
        raise ValueError(
            f"director_sft: {len(over)} of {len(examples)} teacher examples are longer than director_sft.max_length="
            f"{max_length} tokens (the longest, {n} tokens, is a state of context {e['state'].context['context_id']!r}); "
            "SFT would cut off their directives. Raise director_sft.max_length, or shorten the director's prompt "
            "(conversation.max_prompt_tokens, configs/prompts/director_*.jinja)"
        )


def valid_rate(backend: Any, engine: GroupEngine, examples: Sequence[dict], adapter: str | None, seed: int) -> float:
    """Share of held-out states where the director's sampled directive parses as written (each state
    once, however many of the teacher's targets it has)."""
    states = list({id(e["state"]): e["state"] for e in examples}.values())
    prompts = [engine.director_messages(s) for s in states]
    gens = backend.generate(prompts, engine.settings.director, [seed + i for i in range(len(prompts))], adapter)
    return sum(engine.resolve_directive(s, g.text).valid for g, s in zip(gens, states)) / max(1, len(states))


def train_director_sft(
    base_dir: str | Path,
    sft_dir: str | Path | None,
    contexts: pl.DataFrame,
    candidates: pl.DataFrame,
    cards: Registry[Persona],
    cfg: MascotConfig,
    out_dir: str | Path,
    live_dir: str | Path,
) -> dict | None:
    """Train the warm-start LoRA on π_SFT and save it to ``out_dir``; metrics (None off the main process)."""
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    from mascot.agents import load_policy
    from mascot.llm import get_backend
    from mascot.tracking import LiveCurves, lora_config, trainer_args

    w = cfg.director_sft
    groups = cfg.groups()
    # π_SFT as the rollouts run it: its token counts fit the prompts, and after training it measures the
    # valid-directive rate with the new adapter switched off and on
    backend = get_backend("transformers")(
        base_dir, merge=sft_dir, dtype=cfg.model.dtype, device="cpu" if w.use_cpu else cfg.model.device,
        batch_size=cfg.rollouts.chunk_size,
    )  # fmt: skip
    engine = GroupEngine(backend, cards, Prompts(cfg.prompts_dir), engine_settings(cfg.conversation))
    for dataset, group in groups.items():
        if odd := odd_first_tokens(backend.tokenizer, group):
            log.warning(
                "personas.%s: %s start with a different token from the rest of the group; a small director "
                "learns to name them far less often (measured: 0.03 against 0.32). Names with a common start, "
                "such as the_…, avoid it", dataset, ", ".join(f"{n} ({t!r})" for n, t in odd.items()),
            )  # fmt: skip
    ids = sorted(set(candidates["context_id"]))
    held = {c for c in ids if int(stable_hash(w.seed, c)[:8], 16) / 16**8 < w.eval_fraction}
    if len(ids) > 1 and not held:
        held = set(ids[:1])
    elif len(held) == len(ids):  # one context alone: train on it, no held-out rate
        held = set()
    used = contexts.filter(pl.col("context_id").is_in(ids))
    train = teacher_examples(used.filter(~pl.col("context_id").is_in(held)), candidates, engine, groups,
                             w.variants, w.end_rate, w.seed)  # fmt: skip
    evals = teacher_examples(used.filter(pl.col("context_id").is_in(held)), candidates, engine, groups, 1, w.end_rate,
                             w.seed)  # fmt: skip
    if not train:
        raise ValueError(
            f"director_sft: no training states from {len(ids)} context(s) of the candidates table "
            f"({len(held)} held out); it needs non-empty replies of the group's personas (personas.<dataset>)"
        )
    check_lengths(train + evals, backend.count_tokens, w.max_length)
    set_seed(w.seed)
    scratch = tempfile.mkdtemp(prefix="mascot-director-sft-")
    policy = load_policy(base_dir, sft_dir)
    trainer = SFTTrainer(
        model=policy,
        args=TRLSFTConfig(**trainer_args(w, scratch, has_eval=bool(evals)), max_length=w.max_length),
        train_dataset=Dataset.from_list([{k: e[k] for k in ("prompt", "completion")} for e in train]),
        eval_dataset=Dataset.from_list([{k: e[k] for k in ("prompt", "completion")} for e in evals]) if evals else None,
        processing_class=backend.tokenizer,
        peft_config=lora_config(w.lora, "CAUSAL_LM", policy),
        callbacks=[LiveCurves(live_dir)],
    )
    result = trainer.train()
    shutil.rmtree(scratch, ignore_errors=True)
    eval_loss = [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h]
    if not trainer.accelerator.is_main_process:
        return None
    out_dir = Path(out_dir)
    trainer.model.save_pretrained(out_dir)
    trainable, total = trainer.model.get_nb_trainable_parameters()
    del trainer
    backend.load_adapter("director", out_dir)
    before, after = (valid_rate(backend, engine, evals, a, w.seed) if evals else None for a in (None, "director"))
    metrics = {
        "train_examples": len(train), "eval_examples": len(evals), "steps": result.global_step,
        "train_states": len({id(e["state"]) for e in train}),  # a state has one example per silent persona
        "train_loss": round(result.training_loss, 4),
        "eval_loss": round(eval_loss[-1], 4) if eval_loss else None,
        # sampled as the rollouts sample (conversation.temperature), on held-out contexts' states
        "eval_valid_rate_before": before and round(before, 4), "eval_valid_rate_after": after and round(after, 4),
        "trainable_params": trainable, "trainable_pct": round(100 * trainable / total, 4),
    }  # fmt: skip
    (out_dir / WARM_META).write_text(json.dumps({"base": str(base_dir), "held_out": sorted(held)}, indent=2) + "\n")
    return metrics
