"""One-step against whole-block credit for the director, on the offline default's trained models.

Director GRPO scores each sampled directive one step deep: the named companion speaks and the group
RM scores the reply so far. Whole-block credit (what TRL's ``rollout_func`` would be used for) plays
the reply out to its end first (the director and the companions take the turns left) and scores
the finished block. This prints, for the same directives sampled from the warm-started director:

- seconds per directive of each credit (the cost GRPO pays per completion);
- how often the two credits order two directives of one prompt the same way (pairwise
  concordance; what GRPO's group advantages use is exactly that order);
- how often two whole-block credits of the same directive, played out with different seeds, order
  them the same way: the noise a single play-out adds.

Needs what director GRPO reads (benchmarks/director.py's NEEDS: `dvc repro group_rm`).

    python benchmarks/director_credit.py [--states 12] [--generations 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import platform
import statistics
import sys
import time

from bench_record import record  # benchmarks/ is on sys.path when this file runs
from director import inputs_missing

from mascot.agents import Agents
from mascot.config import load_config
from mascot.grpo_director import DirectorWorld, director_states
from mascot.personas import load_cards
from mascot.reward_model import RewardModel
from mascot.schemas import CONTEXTS, ROLLOUTS, read_table
from mascot.seeds import derive_seed
from mascot.trained_group import WARM, group_engine


def as_prefix(state) -> str:
    """A state's current reply as a director-state prefix (the rollouts' JSON turns)."""
    turns = state.history[state.reply_start :]
    return json.dumps([{"speaker": t.speaker, "instruction": t.directive.instruction if t.directive else "",
                        "text": t.text} for t in turns], ensure_ascii=False)  # fmt: skip


def play_out(world: DirectorWorld, context_ids, states, directives, seed: int) -> list:
    """Continue each reply to its end (END or the turn budget) with the warm director, one sample
    per directive as in training, under the engine seed ``seed``; returns the finished states."""
    engine = world.engine
    saved, engine.settings = engine.settings, dataclasses.replace(engine.settings, seed=seed)
    budget = engine.settings.max_turns
    active = [i for i, d in enumerate(directives) if not d.ends and states[i].turns_this_reply() < budget]
    finished = list(states)
    step = 0
    while active:
        prompts = [engine.director_messages(finished[i]) for i in active]
        seeds = [derive_seed(seed, "play out", i, step) for i in active]
        texts = [g.text for g in engine.backend.generate(prompts, engine.settings.director, seeds, adapter=WARM)]
        new_states, new_directives = world.execute([context_ids[i] for i in active],
                                                   [as_prefix(finished[i]) for i in active], texts)  # fmt: skip
        for i, s in zip(active, new_states):
            finished[i] = s
        active = [i for i, d in zip(active, new_directives) if not d.ends and finished[i].turns_this_reply() < budget]
        step += 1
    engine.settings = saved
    return finished


def concordance(a: list[list[float]], b: list[list[float]]) -> float | None:
    """Share of within-prompt pairs (ties in either left out) that ``a`` and ``b`` order alike."""
    same = total = 0
    for xs, ys in zip(a, b):
        for i, j in itertools.combinations(range(len(xs)), 2):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
            if dx and dy:
                total += 1
                same += (dx > 0) == (dy > 0)
    return round(same / total, 3) if total else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--states", type=int, default=12, help="director states with a turn left after the directive")
    parser.add_argument("--generations", type=int, default=4, help="directives sampled per state (GRPO's group)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if inputs_missing():
        return 2
    cfg = load_config(args.params)
    cards = load_cards(cfg.personas.dir)
    contexts = read_table("data/contexts.parquet", CONTEXTS)
    engine = group_engine("models/base", "models/sft", Agents.load("models/agents"), cards, cfg,
                          {WARM: "models/director_sft"}, in_process=True)  # fmt: skip
    rm = RewardModel.load("models/group_rm", prompts_dir=cfg.prompts_dir, kind="group")
    world = DirectorWorld(engine, rm, {r["context_id"]: r for r in contexts.iter_rows(named=True)}, cards, cfg.groups())
    budget = cfg.conversation.max_turns
    # states where a directive still leaves a turn to play out: the only ones where the credits can differ
    rows = [r for r in director_states(read_table("data/rollouts.parquet", ROLLOUTS), budget, None, 0)
            if len(json.loads(r["prefix"])) < budget - 1][: args.states]  # fmt: skip
    g = args.generations
    cids = [r["context_id"] for r in rows for _ in range(g)]
    prefixes = [r["prefix"] for r in rows for _ in range(g)]
    prompts = [engine.director_messages(world.state(c, p)) for c, p in zip(cids, prefixes)]
    texts = [
        x.text
        for x in engine.backend.generate(prompts, engine.settings.director, list(range(len(prompts))), adapter=WARM)
    ]

    start = time.perf_counter()
    states, directives = world.execute(cids, prefixes, texts)
    one_step = world.score(states)
    t_one = time.perf_counter() - start
    blocks, t_block = [], []
    for seed in (1, 2):
        start = time.perf_counter()
        stepped, _ = world.execute(cids, prefixes, texts)  # the same first turn (same keys), then played out
        blocks.append(world.score(play_out(world, cids, stepped, directives, seed)))
        t_block.append(time.perf_counter() - start)

    def grouped(xs):
        return [xs[i : i + g] for i in range(0, len(xs), g)]

    n = len(texts)
    out = {
        "cpu": platform.processor() or platform.machine(), "states": len(rows), "generations": g, "directives": n,
        "max_turns": budget, "ended_at_once": sum(d.ends for d in directives),
        "one_step_s_per_directive": round(t_one / n, 2),
        "whole_block_s_per_directive": round(statistics.fmean(t_block) / n, 2),
        "whole_block_cost_ratio": round(statistics.fmean(t_block) / t_one, 2),
        "concordance_one_step_vs_block": concordance(grouped(one_step), grouped(blocks[0])),
        "concordance_block_vs_block": concordance(grouped(blocks[0]), grouped(blocks[1])),
    }  # fmt: skip
    print(json.dumps(out))
    record("director_credit", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
