"""Stage 2, step 4: the director, optimised with GRPO on the group reward.

A prompt is a director state: a rollout block cut just before one of its directives (the context,
the turns the group has said so far in that reply, the covered record). A completion is one
directive. The reward executes it: the named agent (its GRPO adapter and card) really speaks, and
the group reward model scores the block so far, the earlier turns plus the new one (after END, the
earlier turns alone). All completions of one prompt share its earlier turns, so the group's
advantages compare the directives. The credit is one step deep: the block is not played out to its
end first (that would multiply the cost by the turns left). The group RM saw blocks of every length
from 1 to max_turns (a block ends at END or at the budget), so a block cut after k turns is scored
as the k-turn reply it would be if the director said END there. The second component is 1 for a
directive in the strict format and 0 for one the engine had to replace by its fallback (which
still speaks, so the block is scored either way); the third, optional, rewards giving the turn to
a companion who has spoken least in this reply, or ending a reply nobody was left out of
(:class:`SpeakerBalanceReward`).

The policy is the director's warm-started LoRA (stage director_sft) trained further. The
before/after check runs whole group replies on held-out contexts with the same seeds through the
warm-started and the GRPO director and reports the group-RM reward, the invalid-directive
rate, speaker entropy and the redundancy of consecutive agent turns.
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from mascot.agents import Agents, load_policy
from mascot.blocks import group_cards
from mascot.chat.directive import END, Directive, closest_rule
from mascot.chat.engine import GroupEngine, group_names
from mascot.chat.state import ConversationState
from mascot.config import MascotConfig
from mascot.data.sampling import sample_contexts
from mascot.personas import Persona
from mascot.registry import Registry
from mascot.resume import stable_hash
from mascot.reward_model import RewardModel
from mascot.rewards import completion_text
from mascot.stats import gain_metrics, paired_gains, run_ends, speaker_entropy
from mascot.trained_group import DIRECTOR, WARM, group_engine

log = logging.getLogger(__name__)

DIRECTOR_META = "mascot_director.json"


# --------------------------------------------------------------------------- states


def director_states(rollouts: pl.DataFrame, max_turns: int, max_states: int | None, seed: int) -> list[dict]:
    """Every distinct (context, turns so far) a director faced in the rollouts, as rows with
    ``context_id`` and ``prefix`` (a JSON list of {speaker, instruction, text}); a block that used its
    whole turn budget gives no state after its last turn (no directive is asked there)."""
    turns = rollouts.filter(pl.col("speaker") != END).sort("block_id", "turn")
    seen: dict[tuple[str, str], dict] = {}
    for (_block, context_id), group in turns.group_by("block_id", "context_id", maintain_order=True):
        done = group.select("speaker", "instruction", "text").to_dicts()
        for k in range(min(len(done), max_turns - 1) + 1):
            prefix = json.dumps(done[:k], ensure_ascii=False)
            seen.setdefault((context_id, prefix), {"context_id": context_id, "prefix": prefix})
    rows = sorted(seen.values(), key=lambda r: stable_hash(seed, r["context_id"], r["prefix"]))
    return rows[:max_states] if max_states else rows


def state_of(context: Mapping, group: Sequence[str], display: Mapping[str, str], prefix: str) -> ConversationState:
    state = ConversationState.start(context, group, display)
    for turn in json.loads(prefix):
        state.add_agent(turn["speaker"], turn["text"], Directive(turn["speaker"], turn["instruction"]))
    return state


class DirectorWorld:
    """Rebuilds director states from dataset columns, executes directives with the real agents and
    scores the resulting blocks with the group reward model."""

    def __init__(
        self,
        engine: GroupEngine,
        rm: RewardModel,
        contexts: Mapping[str, Mapping],
        cards: Registry[Persona],
        groups: Mapping[str, Sequence[str]],
    ):
        self.engine, self.rm, self.contexts, self.groups = engine, rm, contexts, groups
        self.cards = group_cards(cards, groups)
        self.display = {ds: group_names(cards, names) for ds, names in groups.items()}

    def state(self, context_id: str, prefix: str) -> ConversationState:
        if context_id not in self.contexts:
            raise KeyError(f"director states: context_id '{context_id}' of the rollouts is not in the contexts table")
        ctx = self.contexts[context_id]
        try:
            return state_of(ctx, self.groups[ctx["dataset"]], self.display[ctx["dataset"]], prefix)
        except ValueError as exc:  # a rollout speaker no longer in the group (personas changed since)
            raise ValueError(f"director states: context '{context_id}': {exc}; re-run the rollouts") from None

    def resolve(self, context_ids: Sequence[str], prefixes: Sequence[str], texts: Sequence[str]):
        """Each director text's state and the directive the engine would follow there (nobody speaks yet)."""
        states = [self.state(c, p) for c, p in zip(context_ids, prefixes)]
        return states, [self.engine.resolve_directive(s, t) for s, t in zip(states, texts)]

    def execute(self, context_ids: Sequence[str], prefixes: Sequence[str], texts: Sequence[str]):
        """Apply each director text to its state; the named agents speak. Returns states and directives."""
        import torch

        states, directives = self.resolve(context_ids, prefixes, texts)
        # the backend seeds torch's global generator per batch; inside a training step that would
        # reset the trainer's own sampling and dropout, so the agents draw from a forked state
        with torch.random.fork_rng(devices=[]):
            for turn in sorted({s.turns_this_reply() for s in states}):  # one batched call per turn position
                idx = [i for i, s in enumerate(states) if s.turns_this_reply() == turn]
                keys = [stable_hash(context_ids[i], prefixes[i]) for i in idx]
                self.engine.speak([states[i] for i in idx], [directives[i] for i in idx], keys, turn)
        return states, directives

    def score(self, states: Sequence[ConversationState]) -> list[float]:
        return self.rm.score(
            [s.context for s in states], [self.cards[s.context["dataset"]] for s in states],
            [s.reply_transcript() for s in states],
        )  # fmt: skip


# --------------------------------------------------------------------------- rewards (TRL reward functions)


class GroupRMReward:
    """The group RM's score of the block the directive produced (standardized by default).

    With ``invalid_below_valid`` an invalid directive's block scores one unit below the worst valid
    directive of the same prompt (same context and prefix). Without it, the fallback's block is
    scored like any other; on the offline default, where the group RM ranks held-out pairs at chance,
    GRPO then let the share of valid sampled directives fall from 1.0 to 0.25 in 6 steps: the 0/1
    format term lost to the RM's noise."""

    __name__ = "group_rm"

    def __init__(self, world: DirectorWorld, standardize: bool = True, invalid_below_valid: bool = True):
        self.world, self.standardize, self.invalid_below_valid = world, standardize, invalid_below_valid
        if standardize:
            world.rm.standardize([0.0])  # fail before the first step when the scale is missing

    def __call__(self, prompts, completions, context_id, prefix, log_metric=None, **_: Any) -> list[float]:
        states, directives = self.world.execute(context_id, prefix, [completion_text(c) for c in completions])
        rewards = self.world.score(states)
        if log_metric is not None:
            log_metric("director/end", sum(d.ends for d in directives) / len(directives))
        rewards = self.world.rm.standardize(rewards) if self.standardize else rewards
        if self.invalid_below_valid:
            rewards = below_valid(rewards, [d.valid for d in directives], list(zip(context_id, prefix)))
        return rewards


def below_valid(rewards: Sequence[float], valid: Sequence[bool], prompts: Sequence[object]) -> list[float]:
    """Each invalid item's reward set one unit below the lowest valid reward of its prompt (unchanged
    where no completion of that prompt is valid: nothing to rank it under)."""
    floor: dict[object, float] = {}
    for r, ok, key in zip(rewards, valid, prompts):
        if ok:
            floor[key] = min(r, floor.get(key, r))
    return [r if ok or key not in floor else floor[key] - 1.0 for r, ok, key in zip(rewards, valid, prompts)]


class DirectiveFormatReward:
    """1 for a directive in the strict two-line format that the engine can follow, else 0."""

    __name__ = "directive_format"

    def __init__(self, world: DirectorWorld):
        self.world = world

    def __call__(self, prompts, completions, context_id, prefix, log_metric=None, log_extra=None, **_: Any):
        _, directives = self.world.resolve(context_id, prefix, [completion_text(c) for c in completions])
        if log_metric is not None:
            log_metric("director/valid", sum(d.valid for d in directives) / len(directives))
        if log_extra is not None:
            log_extra("directive_problem", [d.problem or "" for d in directives])
        return [1.0 if d.valid else 0.0 for d in directives]


class SpeakerBalanceReward:
    """For a valid directive that gives the turn to a companion who has spoken least so far in this
    reply: 1 less the share of the other samples of its prompt that named the same companion; 1 for
    an END of a reply every companion has spoken in; 0 for one that passes over a quieter companion
    (an END while one has not spoken yet does) or needed the fallback.

    A shaping term, not MASCOT's: with a group RM trained on a few dozen pairs (the offline default)
    GRPO learned to hand every turn to the one persona the RM happened to favour (speaker entropy
    0.74 → 0.05 in 12 steps), a monologue the group rubric would reject. Once the speaker rule
    refused a repeat speaker, every eligible choice was "least spoken" and the term paid a constant;
    the warm start's favourites then decided who was left out (Action Guide: 11 % of the warm
    start's probability where it was eligible, 0 of 9 held-out turns after GRPO). Paying the
    companion the other samples passed over makes the group's advantages favour the choice the
    director makes rarely, an entropy bonus on the speaker alone; which companion serves the
    conversation, and with what instruction, is still the group RM's to decide. An END once paid as
    much as a quiet companion's turn; GRPO then learned to end replies early (33 % of them, and 9 of
    its 12 invalid directives were an END before anyone spoke), so it now pays only when nobody is
    left out. With four companions and a three-turn budget that never happens: whether to stop early
    is the group RM's call alone.
    """

    __name__ = "speaker_balance"

    def __init__(self, world: DirectorWorld):
        self.world = world

    @staticmethod
    def balanced(state: ConversationState, directive: Directive) -> bool:
        spoken = state.spoken_this_reply()
        if directive.ends:
            return min(spoken.values()) > 0
        return spoken[directive.speaker] == min(spoken.values())

    def __call__(self, prompts, completions, context_id, prefix, log_metric=None, **_: Any) -> list[float]:
        states, directives = self.world.resolve(context_id, prefix, [completion_text(c) for c in completions])
        balanced = [d.valid and self.balanced(s, d) for s, d in zip(states, directives)]
        keys = list(zip(context_id, prefix))  # one GRPO group per prompt
        size = Counter(keys)
        named = Counter((key, d.speaker) for ok, d, key in zip(balanced, directives, keys) if ok and not d.ends)
        rewards = [
            0.0 if not ok else 1.0 if d.ends else 1.0 - (named[key, d.speaker] - 1) / max(1, size[key] - 1)
            for ok, d, key in zip(balanced, directives, keys)
        ]
        if log_metric is not None:
            log_metric("director/balanced", sum(balanced) / len(balanced))
        return rewards


# --------------------------------------------------------------------------- training


def train_director(
    base_dir: str | Path,
    sft_dir: str | Path | None,
    agents: Agents,
    warm_dir: str | Path,
    rm_dir: str | Path,
    rollouts: pl.DataFrame,
    contexts: pl.DataFrame,
    cards: Registry[Persona],
    cfg: MascotConfig,
    out_dir: str | Path,
    live_dir: str | Path,
    callbacks: Sequence[Any] = (),
) -> dict | None:
    """Continue training the warm-started director LoRA (``warm_dir``) with GRPO, save it to
    ``out_dir``; metrics (None off the main process)."""
    from datasets import Dataset
    from peft import PeftModel
    from transformers import set_seed
    from trl import GRPOTrainer

    from mascot.tracking import LiveCurves, grpo_args

    g = cfg.grpo_director
    device = "cpu" if g.use_cpu else cfg.model.device
    engine = group_engine(base_dir, sft_dir, agents, cards, cfg, device=device, in_process=True)
    by_id = {r["context_id"]: r for r in contexts.iter_rows(named=True)}
    rm = RewardModel.load(rm_dir, device=device, prompts_dir=cfg.prompts_dir, kind="group")
    world = DirectorWorld(engine, rm, by_id, cards, cfg.groups())
    rows = director_states(rollouts, cfg.conversation.max_turns, g.max_states, g.seed)
    if not rows:
        raise ValueError("grpo_director: the rollouts table has no block with an agent turn, so no director state")
    examples = [{**r, "prompt": engine.director_messages(world.state(r["context_id"], r["prefix"]))} for r in rows]
    rewards = [
        GroupRMReward(world, g.standardize_group_rm, g.invalid_below_valid),
        DirectiveFormatReward(world),
        SpeakerBalanceReward(world),
    ]

    set_seed(g.seed)
    scratch = tempfile.mkdtemp(prefix="mascot-director-")
    # with β > 0 TRL copies this adapter into a frozen "ref" adapter: the KL anchor is the warm start
    policy = PeftModel.from_pretrained(load_policy(base_dir, sft_dir), str(warm_dir), is_trainable=True)
    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=rewards,
        args=grpo_args(g, scratch, [f.__name__ for f in rewards], cfg.conversation.director_max_new_tokens),
        train_dataset=Dataset.from_list(examples),
        processing_class=engine.backend.tokenizer,
        callbacks=[LiveCurves(live_dir), *callbacks],
    )
    result = trainer.train()
    out_dir = Path(out_dir)
    trainer.save_model(str(out_dir))  # the adapter only; written by the main process
    shutil.rmtree(scratch, ignore_errors=True)
    acc = trainer.accelerator
    log.info("grpo_director: %d steps in %.1f s on %d process(es) (%s)", result.global_step,
             result.metrics.get("train_runtime", 0.0), acc.num_processes, acc.distributed_type)  # fmt: skip
    if not acc.is_main_process:
        return None
    meta = {"base": str(base_dir), "sft": str(sft_dir) if sft_dir else None, "warm_start": str(warm_dir),
            "group_rm": str(rm_dir),
            "prompts_dir": cfg.prompts_dir, "states": len(rows)}  # fmt: skip
    (out_dir / DIRECTOR_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    trainable, total = trainer.model.get_nb_trainable_parameters()
    history = trainer.state.log_history
    metrics: dict[str, Any] = {"train_states": len(rows), "processes": acc.num_processes, "steps": result.global_step,
                               "trainable_params": trainable, "trainable_pct": round(100 * trainable / total, 4)}  # fmt: skip
    for key, name in (("reward", "reward"), ("director/valid", "directive_valid")):
        metrics[f"train.{name}_start"], metrics[f"train.{name}_end"] = run_ends([h[key] for h in history if key in h])
    return metrics


# --------------------------------------------------------------------------- before / after


def compare_director(
    base_dir: str | Path,
    sft_dir: str | Path | None,
    agents: Agents,
    warm_dir: str | Path,
    director_dir: str | Path,
    rm: RewardModel,
    contexts: pl.DataFrame,
    cards: Registry[Persona],
    cfg: MascotConfig,
    embed: Callable[[list[list[str]]], list[float | None]],
) -> tuple[pl.DataFrame, dict]:
    """Whole group replies on held-out contexts with the director before GRPO (its warm start) and
    after, from the same keys and batches: the first directive of each block is sampled with the
    same seed, later turns follow from what each director chose. ``embed`` gives each block's
    consecutive-turn similarity."""
    check = cfg.grpo_director.check
    held = sample_contexts(contexts.filter(pl.col("split") == check.split), check.contexts_per_domain, check.seed)
    if held.is_empty():
        raise ValueError(f"grpo_director.check.split: no '{check.split}' contexts; add it to ingest.splits")
    directors = {WARM: warm_dir, DIRECTOR: director_dir}
    engine = group_engine(base_dir, sft_dir, agents, cards, cfg, directors, in_process=True)
    groups = cfg.groups()
    world = DirectorWorld(engine, rm, {}, cards, groups)
    plan = [(ctx, s) for ctx in held.iter_rows(named=True) for s in range(check.samples)]
    keys = [f"{ctx['context_id']}|check{check.seed}|{s}" for ctx, s in plan]
    rows = []
    for policy, adapter in (("before", WARM), ("after", DIRECTOR)):
        engine.director_adapter = adapter
        states = [
            ConversationState.start(ctx, groups[ctx["dataset"]], world.display[ctx["dataset"]]) for ctx, _ in plan
        ]
        logs = engine.reply(states, keys)
        scores = world.score(states)
        # agent turns only: no user turn in a reply
        turns = [[t.text for t in st.history[st.reply_start :]] for st in states]
        for (ctx, s), st, lg, score, sim in zip(plan, states, logs, scores, embed(turns)):
            rows.append({
                "context_id": ctx["context_id"], "dataset": ctx["dataset"], "domain": ctx["domain"], "sample_idx": s,
                "policy": policy, "transcript": st.reply_transcript(),
                "speakers": ",".join(st.reply_speakers()),
                "turns": st.turns_this_reply(), "directives": len(lg.directives), "invalid_directives": lg.invalid,
                "ended_by_director": lg.ended_by_director, "directives_raw": json.dumps(lg.raw, ensure_ascii=False),
                "instructions": json.dumps([d.instruction for d in lg.directives if not d.ends], ensure_ascii=False),
                "director_samples": sum(lg.attempts),
                "group_rm": float(score), "redundancy": sim,
            })  # fmt: skip
    table = pl.DataFrame(rows, schema_overrides={"sample_idx": pl.Int64, "redundancy": pl.Float64})
    table = table.sort("context_id", "sample_idx", "policy")
    rules = {name: cards.get(name).rules for group in groups.values() for name in group}
    return table, director_check_metrics(table, groups, check, rules)


def own_rule_share(speakers: Sequence[str], instructions: Sequence[str], rules: Mapping[str, Sequence[str]]) -> float:
    """The share of instructions whose closest card rule (word-set Jaccard, over every rule of every
    companion in ``rules``: :func:`~mascot.chat.directive.closest_rule`) is one of the named speaker's
    own: an instruction that fits the companion it is given to. An instruction that shares no word
    with any rule counts as not its own."""
    own = 0
    for speaker, instruction in zip(speakers, instructions, strict=True):
        score, owners = closest_rule(instruction, rules)
        own += score > 0 and speaker in owners
    return own / len(instructions) if instructions else float("nan")


def director_check_metrics(
    table: pl.DataFrame, groups: Mapping[str, Sequence[str]], check, rules: Mapping[str, Sequence[str]] | None = None
) -> dict:
    """Means before and after; for the group reward, the invalid-directive rate and redundancy, the
    after − before difference with a bootstrap interval over contexts (samples averaged first). Who
    spoke: speaker entropy per dataset (averaged) and each companion's share of its group's turns; the
    share of distinct instructions among all the turns' instructions; with ``rules`` (persona → its
    card's rules) the share of instructions closest to a rule of the companion they were given to."""
    table = table.with_columns(invalid_rate=pl.col("invalid_directives") / pl.col("directives"))
    columns = {"group_rm": "group_rm", "invalid_rate": "invalid_directive_rate", "redundancy": "redundancy"}
    gains = paired_gains(table, ("context_id",), list(columns), check.bootstrap_resamples, check.confidence, check.seed)
    metrics: dict[str, Any] = {"check_contexts": table["context_id"].n_unique(), "check_blocks": table.height // 2}
    for column, name in columns.items():
        for policy in ("before", "after"):
            part = table.filter(pl.col("policy") == policy)
            # the rate over all directives (not the mean of per-block rates): what the issue bounds
            value = (
                part["invalid_directives"].sum() / part["directives"].sum()
                if column == "invalid_rate"
                else part[column].mean()
            )
            metrics[f"{name}_{policy}"] = None if value is None else round(float(value), 4)
        metrics |= gain_metrics(name, gains[column])
    for policy in ("before", "after"):
        part = table.filter(pl.col("policy") == policy)
        accepted = part["directives"].sum() - part["invalid_directives"].sum()
        metrics[f"refused_sample_rate_{policy}"] = round(1 - accepted / part["director_samples"].sum(), 4)
        entropies, shares = [], {}
        for (ds,), g in part.group_by("dataset", maintain_order=True):
            spoken = [s for s in ",".join(g["speakers"]).split(",") if s]
            entropies.append(speaker_entropy(spoken, len(groups[ds])))
            shares |= {name: round(spoken.count(name) / len(spoken), 4) for name in groups[ds]}
        metrics[f"speaker_entropy_{policy}"] = round(statistics.fmean(entropies), 4)
        metrics[f"speaker_share_min_{policy}"] = min(shares.values())
        metrics[f"speaker_share_{policy}"] = dict(sorted(shares.items()))
        # one instruction for every turn is a collapse the speaker figures cannot show
        instructions = [i for block in part["instructions"] for i in json.loads(block)]
        metrics[f"instruction_distinct_{policy}"] = round(len(set(instructions)) / max(1, len(instructions)), 4)
        if rules is not None:  # The Innovator's "keep ideas feasible" handed to The Anchor is not its own
            speakers = [s for block in part["speakers"] for s in block.split(",") if s]
            metrics[f"instruction_own_card_{policy}"] = round(own_rule_share(speakers, instructions, rules), 4)
        metrics[f"mean_turns_{policy}"] = round(part["turns"].mean(), 3)
        metrics[f"ended_by_director_rate_{policy}"] = round(part["ended_by_director"].mean(), 4)
    metrics["confidence"] = check.confidence
    return metrics
