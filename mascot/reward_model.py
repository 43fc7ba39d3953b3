"""Reward models by Bradley–Terry on judged preference pairs: the persona reward model r_φ(x, ρ, y)
(Stage 1, step 4) and the group reward model over whole blocks of companion turns (Stage 2).

The persona RM reads exactly what the persona agent read — its persona prompt for the context, the
history trimmed to the token budget — followed by the reply as an assistant turn; the group RM reads
the group's prompt (every persona of the group) followed by the block's transcript. Both return one
scalar read at the last token by a sequence-classification head on the base LM. Training (TRL's
RewardTrainer, a LoRA plus a fully trained head) and scoring share one encoder, so a reply gets the
same tokens in both, and the saved folder (merged weights + tokenizer + ``mascot_rm.json``) is all
GRPO or ``mascot score`` need to reproduce the training-time rewards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import polars as pl

from mascot.config import PersonaRMConfig
from mascot.personas import Persona
from mascot.prompts import Message, Prompts, fit_history
from mascot.registry import UnknownNameError
from mascot.resume import stable_hash
from mascot.yaml_files import read_json_object

log = logging.getLogger(__name__)

META_FILE = "mascot_rm.json"
# Tokens kept free for the reply when the prompt is fitted (the persona RM's; the group RM's is a
# param). A fixed room (rather than the length of the reply at hand) gives every reply to one
# context the same prompt, so GRPO compares the replies of a group on equal terms; only a reply
# longer than the room pushes out more history.
REPLY_ROOM = 96
# Merged weights must reproduce the adapter model's rewards up to float rounding.
MERGE_TOLERANCE = 1e-3
MERGE_PROBE = 16
# the reward scale GRPO divides by is estimated on at most this many trained-on pairs (both replies of each)
SCALE_PAIRS = 32
# The context fields the persona prompt is rendered from (a cache key for the fitted prompt).
PROMPT_FIELDS = ("dataset", "domain", "emotion", "situation", "history", "query")

# What a reward is about: one persona (its card), or a whole group (the cards of its personas).
Subject = Persona | tuple[Persona, ...]
# (pair's persona column, its context row, where) → the subject; raises naming ``where`` on a bad name
Resolve = Callable[[str, Mapping[str, Any], str], Subject]


def subject_key(subject: Subject) -> str:
    return subject.name if isinstance(subject, Persona) else "+".join(p.name for p in subject)


# --------------------------------------------------------------------------- held-out split


def _unit_hash(seed: int, *parts: str) -> float:
    """A number in [0, 1) fixed by its inputs on every machine (Python's hash() is salted per process)."""
    digest = hashlib.sha256(json.dumps([seed, *parts]).encode("utf-8")).hexdigest()
    return int(digest[:15], 16) / 16**15


def split_pairs(pairs: pl.DataFrame, eval_fraction: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold out whole (context_id, persona) groups, so no context is seen in both train and eval.

    A group goes to eval when its hash falls under ``eval_fraction``; membership depends only on the
    group and the seed, so adding pairs elsewhere never moves a group. With two or more groups both
    sides are non-empty; with a single group everything trains and the eval set is empty (a warning
    says so, and the eval metrics are null).
    """
    if pairs.is_empty():
        raise ValueError(
            "reward model: the pairs table is empty, nothing to train on; lower the δ of the stage that wrote it (label.delta or group_label.delta) or judge more replies"
        )
    if not 0 < eval_fraction < 1:
        raise ValueError(f"reward model: eval_fraction must be in (0, 1), got {eval_fraction}")
    groups = sorted(set(zip(pairs["context_id"].to_list(), pairs["persona"].to_list())))
    draw = {g: _unit_hash(seed, *g) for g in groups}
    held = {g for g in groups if draw[g] < eval_fraction}
    if len(groups) == 1:
        log.warning(
            "reward model: all %d pairs come from ONE (context, persona) group %s, so nothing can be held out: "
            "training on all of them, eval metrics will be null. Label more contexts for a held-out accuracy.",
            pairs.height,
            groups[0],
        )
        held = set()
    elif not held:
        held = {min(groups, key=draw.__getitem__)}
    elif len(held) == len(groups):
        held.discard(max(groups, key=draw.__getitem__))
    key = pl.concat_str([pl.col("context_id"), pl.col("persona")], separator="\x1f")
    in_eval = key.is_in([f"{c}\x1f{p}" for c, p in held])
    return pairs.filter(~in_eval), pairs.filter(in_eval)


# --------------------------------------------------------------------------- encoding


class RMEncoder:
    """(context, persona, reply) → token ids; the one tokenization used for training and scoring.

    The ids are ``apply_chat_template(prompt + [assistant reply])``, the same call TRL's
    RewardTrainer makes for a conversational ``{"prompt", "chosen", "rejected"}`` example.
    """

    def __init__(self, tokenizer: Any, prompts: Prompts, max_length: int, reply_room: int = REPLY_ROOM):
        if reply_room >= max_length:
            raise ValueError(f"reward model: reply_room ({reply_room}) must be below max_length ({max_length})")
        self.tokenizer, self.prompts, self.max_length, self.reply_room = tokenizer, prompts, max_length, reply_room

    def ids(self, messages: list[Message], add_generation_prompt: bool = False) -> list[int]:
        enc = self.tokenizer.apply_chat_template(
            messages, tokenize=True, return_dict=True, add_generation_prompt=add_generation_prompt
        )
        return list(enc["input_ids"])

    def prompt_tokens(self, messages: list[Message]) -> int:
        return len(self.ids(messages, add_generation_prompt=True))

    def prompt(self, context: Mapping[str, Any], subject: Subject, budget: int) -> list[Message]:
        return fit_history(
            lambda h: self.prompts.subject_messages(subject, context, h),
            list(context["history"]),
            self.prompt_tokens,
            budget,
        )

    def encode_many(
        self, contexts: Sequence[Mapping[str, Any]], personas: Sequence[Subject], responses: Sequence[str]
    ) -> list[list[int]]:
        if not len(contexts) == len(personas) == len(responses):
            raise ValueError(
                f"reward model: {len(contexts)} contexts, {len(personas)} personas and {len(responses)} responses; "
                "pass one of each per response"
            )
        prompts: dict[str, list[Message]] = {}  # K replies to one context share one fitted prompt
        out = []
        for ctx, persona, response in zip(contexts, personas, responses):
            key = stable_hash(subject_key(persona), [ctx.get(k) for k in PROMPT_FIELDS])
            if key not in prompts:
                prompts[key] = self.prompt(ctx, persona, self.max_length - self.reply_room)
            messages = prompts[key]
            reply = [{"role": "assistant", "content": response}]
            ids = self.ids(messages + reply)
            if len(ids) > self.max_length:
                # a reply longer than the room: give it the history it needs rather than cut the reply
                reply_tokens = len(ids) - self.prompt_tokens(messages)
                ids = self.ids(self.prompt(ctx, persona, self.max_length - reply_tokens) + reply)
            out.append(ids)
        return out


# --------------------------------------------------------------------------- scoring


class RewardModel:
    """r(x, subject, y) for batches of (context row, persona card or group, reply); higher is better."""

    def __init__(self, model: Any, tokenizer: Any, prompts: Prompts, max_length: int, meta: dict | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.meta = meta or {}
        self.encoder = RMEncoder(tokenizer, prompts, max_length, self.meta.get("reply_room", REPLY_ROOM))
        self.pad_token_id = model.config.get_text_config().pad_token_id
        if self.pad_token_id is None:
            raise ValueError("reward model: the model config has no pad_token_id, so padded batches cannot be scored")

    @property
    def max_length(self) -> int:
        return self.encoder.max_length

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    def standardize(self, rewards: Sequence[float]) -> list[float]:
        """Rewards in units of their spread over the training replies, centred on their mean there."""
        mean, std = self.meta.get("reward_mean"), self.meta.get("reward_std")
        if mean is None or not std:
            raise ValueError(
                f"reward model: {self.meta.get('path', '')}/{META_FILE} has no reward_mean/reward_std (a model trained "
                f"before they were recorded, or on identical replies); retrain it with `dvc repro {self.kind}_rm`"
            )
        return [(r - mean) / std for r in rewards]

    @property
    def personas_seen(self) -> list[str]:
        return list(self.meta.get("personas", []))

    def dataset_of(self, persona: str) -> str | None:
        """The dataset this persona was trained on, when that is unambiguous."""
        datasets = self.meta.get("persona_datasets", {}).get(persona, [])
        return datasets[0] if len(datasets) == 1 else None

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str = "cpu",
        prompts_dir: str | Path | None = None,
        max_length: int | None = None,
        kind: str | None = None,
    ) -> RewardModel:
        """A folder written by :func:`train_reward_model`; prompts dir and max_length come from its
        ``mascot_rm.json`` unless given here. With ``kind`` ("persona" or "group"), a model of the
        other kind is refused: each scores a different prompt."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from mascot.llm.transformers_backend import pick_device

        path = Path(path)
        meta_path = path / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(
                f"{path}: not a reward model folder (no {META_FILE}); train one with `dvc repro persona_rm` (or group_rm)"
            )
        meta = read_json_object(meta_path, "reward model record")
        for key in ("prompts_dir", "max_length"):
            if key not in meta:
                raise ValueError(f"{meta_path}: missing key '{key}'")
        meta["path"] = str(path)
        meta.setdefault("kind", "persona")  # models from before group RMs existed are persona RMs
        if kind is not None and meta["kind"] != kind:
            raise ValueError(f"{meta_path}: a {meta['kind']} reward model where a {kind} reward model is needed")
        prompts_dir = Path(prompts_dir or meta["prompts_dir"])
        if not prompts_dir.is_dir():
            raise FileNotFoundError(
                f"{meta_path}: prompts_dir '{prompts_dir}' does not exist here (relative paths are read from the "
                "current directory); pass the folder of the templates the model was trained with"
            )
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32)
        model.to(pick_device(device)).eval()
        return cls(model, tokenizer, Prompts(prompts_dir), int(max_length or meta["max_length"]), meta)

    def score(
        self,
        contexts_rows: Sequence[Mapping[str, Any]],
        personas: Sequence[Subject],
        responses: Sequence[str],
        batch_size: int = 16,
    ) -> list[float]:
        """One reward per response; ``contexts_rows[i]`` and ``personas[i]`` (a persona card, or the
        group's cards for a block) are what response i answers."""
        ids = self.encoder.encode_many(contexts_rows, personas, responses)
        too_long = sum(len(x) > self.max_length for x in ids)
        if too_long:
            log.warning(
                "reward model: %d of %d inputs exceed max_length=%d even with the oldest history dropped; "
                "they are scored in full, but training never saw inputs that long",
                too_long,
                len(ids),
                self.max_length,
            )
        return self.score_ids(ids, batch_size)

    def score_ids(self, ids: Sequence[Sequence[int]], batch_size: int = 16) -> list[float]:
        """Rewards for already-encoded inputs, batched with right padding.

        Right padding keeps every real token at the position it has alone (a causal model never
        attends to the pads after it), and the Llama-style head reads the rightmost non-pad token,
        so a batched reward equals the one-at-a-time reward. Sorting by length keeps pads few.
        """
        import torch

        if batch_size < 1:
            raise ValueError(f"reward model: batch_size must be >= 1, got {batch_size}")
        self.model.eval()  # a reward model is only ever evaluated here; no dropout noise in rewards
        device = next(self.model.parameters()).device
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = [0.0] * len(ids)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                width = max(len(ids[i]) for i in chunk)
                input_ids = torch.full((len(chunk), width), self.pad_token_id, dtype=torch.long)
                attention = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, i in enumerate(chunk):
                    input_ids[row, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                    attention[row, : len(ids[i])] = 1
                logits = self.model(
                    input_ids=input_ids.to(device), attention_mask=attention.to(device), use_cache=False
                ).logits
                for row, i in enumerate(chunk):
                    out[i] = float(logits[row, 0])
        return out


# --------------------------------------------------------------------------- training


def _pair_inputs(
    pairs: pl.DataFrame, contexts: Mapping[str, dict], resolve: Resolve
) -> tuple[list[dict], list[Subject]]:
    """The context row and subject of every pair, in order; unknown ids are named."""
    rows, personas = [], []
    for pair in pairs.select("pair_id", "context_id", "persona").iter_rows(named=True):
        ctx = contexts.get(pair["context_id"])
        if ctx is None:
            raise ValueError(
                f"preference pair '{pair['pair_id']}': context_id '{pair['context_id']}' is not in the contexts table"
            )
        rows.append(ctx)
        personas.append(resolve(pair["persona"], ctx, f"preference pair '{pair['pair_id']}'"))
    return rows, personas


def _encode_pairs(
    pairs: pl.DataFrame, contexts: Mapping[str, dict], resolve: Resolve, encoder: RMEncoder, split: str
) -> tuple[pl.DataFrame, list[dict], int]:
    """Tokenized {chosen_ids, rejected_ids} rows for TRL, dropping (and naming) pairs too long to fit;
    also the max_length the shortest pair would need, for the error when nothing fits.

    TRL would drop them too, silently; here the count is logged and reported. The judge's margin
    column is deliberately not passed: RewardTrainer would turn it into a margin loss, and MASCOT
    trains the plain Bradley–Terry loss −log σ(r_w − r_l).
    """
    rows, personas = _pair_inputs(pairs, contexts, resolve)
    chosen = encoder.encode_many(rows, personas, pairs["chosen"].to_list())
    rejected = encoder.encode_many(rows, personas, pairs["rejected"].to_list())
    need = [max(len(c), len(r)) for c, r in zip(chosen, rejected)]
    fits = [n <= encoder.max_length for n in need]
    if not all(fits):
        dropped = [pid for pid, ok in zip(pairs["pair_id"].to_list(), fits) if not ok]
        log.warning(
            "reward model: %d %s pair(s) longer than max_length=%d even with the history trimmed, dropped "
            "(first: %s); raise max_length to keep them",
            len(dropped),
            split,
            encoder.max_length,
            dropped[:5],
        )
    kept = pairs.filter(pl.Series(fits, dtype=pl.Boolean))
    examples = [{"chosen_ids": c, "rejected_ids": r} for c, r, ok in zip(chosen, rejected, fits) if ok]
    return kept, examples, min(need, default=0)


def _pair_stats(
    rm: RewardModel, pairs: pl.DataFrame, contexts: Mapping[str, dict], resolve: Resolve, batch_size: int
) -> dict[str, float | None]:
    """Share of pairs with r(chosen) > r(rejected) and the mean gap, from the scorer itself."""
    if pairs.is_empty():
        return {"accuracy": None, "mean_margin": None}
    rows, personas = _pair_inputs(pairs, contexts, resolve)
    scores = rm.score(rows * 2, personas * 2, pairs["chosen"].to_list() + pairs["rejected"].to_list(), batch_size)
    n = pairs.height
    gaps = [c - r for c, r in zip(scores[:n], scores[n:])]
    return {"accuracy": round(sum(g > 0 for g in gaps) / n, 4), "mean_margin": round(sum(gaps) / n, 4)}


def train_reward_model(
    base_dir: str | Path,
    pairs: pl.DataFrame,
    contexts: pl.DataFrame,
    resolve: Resolve,
    prompts: Prompts,
    cfg: PersonaRMConfig,
    out_dir: str | Path,
    live_dir: str | Path,
    kind: str = "persona",
    reply_room: int = REPLY_ROOM,
) -> dict | None:
    """Train a reward model, save the merged model to ``out_dir``; return held-out metrics from the
    saved model (None on the other processes of a multi-process launch). ``resolve`` turns a pair's
    persona column into what the prompt shows (``mascot.persona_rm.persona_subjects``, or a group's cards)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed
    from trl import RewardConfig, RewardTrainer

    from mascot.tracking import LiveCurves, lora_config, trainer_args

    # the score head is initialised at random when the model is built: seed first, so the init
    # (and with it eval_accuracy_before) is the same on every run
    set_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=1, dtype=torch.float32)
    # the head finds each sequence's last token as the rightmost non-pad token
    model.config.pad_token_id = tokenizer.pad_token_id

    by_id = {row["context_id"]: row for row in contexts.iter_rows(named=True)}
    encoder = RMEncoder(tokenizer, prompts, cfg.max_length, reply_room)
    train_pairs, eval_pairs = split_pairs(pairs, cfg.eval_fraction, cfg.seed)
    train_pairs, train_rows, shortest = _encode_pairs(train_pairs, by_id, resolve, encoder, "train")
    eval_pairs, eval_rows, _ = _encode_pairs(eval_pairs, by_id, resolve, encoder, "eval")
    if not train_rows:
        raise ValueError(
            f"{kind}_rm: every train pair is longer than {kind}_rm.max_length={cfg.max_length} tokens even with "
            f"the history cut to the latest turn (the shortest needs {shortest}); raise {kind}_rm.max_length"
        )

    scratch = tempfile.mkdtemp(prefix="mascot-rm-")
    args = RewardConfig(
        **trainer_args(cfg, scratch, has_eval=bool(eval_rows)),  # bf16 explicit: RewardConfig defaults to True
        max_length=None,  # _encode_pairs already dropped (and named) the pairs that do not fit
        center_rewards_coefficient=cfg.center_rewards_coefficient,
        disable_dropout=False,  # keep persona_rm.lora.dropout; decoder bases carry no dropout of their own
    )
    # the head starts random: it must be trained in full, not through an adapter
    peft_config = lora_config(cfg.lora, "SEQ_CLS", model, modules_to_save=["score"])
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[LiveCurves(live_dir)],
    )
    # LoRA's B starts at zero, so the wrapped model is still the untrained init: the "before" figure
    adapter_rm = RewardModel(
        trainer.model, tokenizer, prompts, cfg.max_length, {"reply_room": reply_room, "kind": kind}
    )
    before = _pair_stats(adapter_rm, eval_pairs, by_id, resolve, cfg.batch_size)
    result = trainer.train()
    log.info("%s_rm: %d steps in %.1f s", kind, result.global_step, result.metrics.get("train_runtime", 0.0))
    trainable, total = trainer.model.get_nb_trainable_parameters()

    # bf16 training wraps forward in autocast; unwrapped, the probe scores in float32 like the saved model
    adapter_rm.model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    probe = (eval_pairs if eval_rows else train_pairs).head(MERGE_PROBE)
    probe_rows, probe_personas = _pair_inputs(probe, by_id, resolve)
    probe_scores = adapter_rm.score(probe_rows, probe_personas, probe["chosen"].to_list(), cfg.batch_size)

    shutil.rmtree(scratch, ignore_errors=True)
    if not trainer.accelerator.is_main_process:  # under accelerate launch the main process saves
        return None
    merged = adapter_rm.model.merge_and_unload()
    out_dir = Path(out_dir)
    merged.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    seen = pairs.select("persona", "context_id").join(
        contexts.select("context_id", "dataset"), on="context_id", how="left"
    )
    meta = {
        "kind": kind,
        "base": str(base_dir),
        "prompts_dir": str(prompts.directory),
        "max_length": cfg.max_length,
        "reply_room": reply_room,
        "personas": sorted(set(seen["persona"])),
        "persona_datasets": {
            name: sorted(set(group["dataset"].drop_nulls()))
            for (name,), group in seen.group_by("persona", maintain_order=True)
        },
    }
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    saved = RewardModel.load(out_dir, device="cpu" if cfg.use_cpu else "auto")
    reloaded = saved.score(probe_rows, probe_personas, probe["chosen"].to_list(), cfg.batch_size)
    worst = max(abs(a - b) for a, b in zip(probe_scores, reloaded))
    if worst > MERGE_TOLERANCE * max(1.0, *map(abs, probe_scores)):
        raise RuntimeError(
            f"{kind}_rm: the saved model in {out_dir} does not reproduce the trained rewards (max gap {worst:.4g}); "
            "the merged LoRA or the score head was not saved as trained"
        )
    after = _pair_stats(saved, eval_pairs, by_id, resolve, cfg.batch_size)
    # The spread of rewards over the replies it was trained on: GRPO divides by it so that the
    # persona reward is on a known scale next to the format reward, whatever the base model.
    scale_pairs = (
        train_pairs.sample(min(SCALE_PAIRS, train_pairs.height), seed=cfg.seed) if train_pairs.height else train_pairs
    )
    rows, personas = _pair_inputs(scale_pairs, by_id, resolve)
    seen_rewards = saved.score(
        rows * 2, personas * 2, scale_pairs["chosen"].to_list() + scale_pairs["rejected"].to_list(), cfg.batch_size
    )
    meta["reward_mean"] = round(statistics.fmean(seen_rewards), 6)
    meta["reward_std"] = round(statistics.pstdev(seen_rewards), 6)
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return {
        "train_pairs": train_pairs.height,
        "eval_pairs": eval_pairs.height,
        "pairs_too_long": pairs.height - train_pairs.height - eval_pairs.height,
        "steps": result.global_step,
        "train_loss": round(result.training_loss, 4),
        "eval_accuracy_before": before["accuracy"],
        "eval_accuracy": after["accuracy"],
        "eval_mean_margin_before": before["mean_margin"],
        "eval_mean_margin": after["mean_margin"],
        "reward_mean": meta["reward_mean"],
        "reward_std": meta["reward_std"],
        "trainable_params": trainable,
        "trainable_pct": round(100 * trainable / total, 4),
    }


# --------------------------------------------------------------------------- `mascot score`


TURN_KEYS = ("speaker", "text")


def _read_history(path: str | Path) -> list[dict[str, str]]:
    """A JSON list of {"speaker": ..., "text": ...} turns, oldest first."""
    path = Path(path)
    try:
        turns = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"--history-file: {path} not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(turns, list):
        raise ValueError(f'{path}: expected a JSON list of {{"speaker": ..., "text": ...}} turns')
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or not all(isinstance(turn.get(k), str) and turn[k].strip() for k in TURN_KEYS):
            raise ValueError(f"{path}[{i}]: a turn needs a non-empty 'speaker' and 'text', got {turn!r}")
    return [{"speaker": t["speaker"], "text": t["text"]} for t in turns]


def score_cli(args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    """`mascot score`: one JSON line {"score", "response"} per --response, in order."""
    from mascot.data.valence import VALENCE
    from mascot.personas import load_cards
    from mascot.schemas import DATASETS

    # the cheap checks first, so a typo does not wait for the weights to load
    try:
        persona = load_cards(args.personas_dir).get(args.persona, where="--persona")
    except UnknownNameError as exc:  # a KeyError; the CLI reports ValueErrors as usage errors
        raise ValueError(str(exc)) from None
    history = _read_history(args.history_file) if args.history_file else []
    rm = RewardModel.load(args.model, device=args.device, prompts_dir=args.prompts_dir, kind="persona")
    if rm.personas_seen and persona.name not in rm.personas_seen:
        log.warning(
            "persona '%s' was not in this reward model's training pairs (%s); its scores are untested",
            persona.name, ", ".join(rm.personas_seen),
        )  # fmt: skip
    dataset = args.dataset or rm.dataset_of(persona.name) or ("empathetic_dialogues" if args.emotion else None)
    if dataset not in DATASETS:
        raise ValueError(f"--dataset: say which kind of context this is, one of {', '.join(DATASETS)}")
    if dataset == "empathetic_dialogues" and not args.emotion:
        raise ValueError("--emotion is required for an empathetic_dialogues context (e.g. --emotion sad)")
    context = {
        "dataset": dataset,
        # the domain of an ED context is the valence of its emotion; the templates do not show it
        "domain": args.domain or (VALENCE.get(args.emotion.lower()) if args.emotion else None),
        "emotion": args.emotion,
        "situation": args.situation,
        "history": history,
        "query": args.query,
    }
    n = len(args.response)
    scores = rm.score([context] * n, [persona] * n, args.response, batch_size=args.batch_size)
    for response, score in zip(args.response, scores):
        out.write(json.dumps({"score": round(score, 6), "response": response}, ensure_ascii=False) + "\n")
    return 0
