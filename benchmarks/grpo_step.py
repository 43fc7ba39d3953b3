"""GRPO seconds per step and peak memory on the offline default (models/base, models/sft, models/persona_rm).

Trains exactly as the grpo_agents stage does (params.yaml's grpo_agents section, --steps overriding
max_steps) into a temporary folder, so models/agents is left alone; the before/after check is not run.
Run it plainly, or under accelerate to measure data parallelism:

    python benchmarks/grpo_step.py [--steps N] [--set grpo_agents.gradient_checkpointing=true]
    python benchmarks/grpo_step.py --stand-ins [--steps N]   # after `dvc repro ingest` only
    accelerate launch --config_file configs/accelerate/cpu_ddp.yaml benchmarks/grpo_step.py [--steps N]

Each process prints its own line; the first step (warm-up, allocations) is left out of the mean. The
main process merges its figures into metrics/bench.json under grpo_step[.stand_ins][.<each --set>].*.

--stand-ins trains on the bare base (no SFT adapter) against an untrained persona RM (random scalar head)
built from models/base, so only `dvc repro ingest` has to have run. Step time and memory depend on the
shapes, not on what the models have learned, except the completion lengths: the untrained base fills
max_completion_length more often than π_SFT does, so stand-in figures are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_record import record, variant  # benchmarks/ is on sys.path when this file runs
from transformers import TrainerCallback

from mascot.config import load_config, parse_overrides
from mascot.grpo_agents import train_agents
from mascot.personas import load_cards
from mascot.schemas import CONTEXTS, read_table
from mascot.stand_ins import write_untrained_reward_model


class StepClock(TrainerCallback):
    def __init__(self):
        self.times: list[float] = []

    def on_step_begin(self, args, state, control, **kw):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.times.append(time.perf_counter() - self._start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument(
        "--stand-ins",
        action="store_true",
        help="the bare base and an untrained persona RM instead of models/sft and models/persona_rm",
    )
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a param, YAML value (e.g. grpo_agents.gradient_checkpointing=true)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    needs = ("models/base", "data/contexts.parquet") + (() if args.stand_ins else ("models/sft", "models/persona_rm"))
    for need in needs:
        if not Path(need).exists():
            print(
                f"{need} is missing: run `dvc repro {'ingest' if args.stand_ins else 'persona_rm'}` first",
                file=sys.stderr,
            )
            return 2
    cfg = load_config(args.params, {"grpo_agents.max_steps": args.steps, **parse_overrides(args.set)})
    g = cfg.grpo_agents
    clock = StepClock()
    with tempfile.TemporaryDirectory() as tmp:
        sft, rm = "models/sft", "models/persona_rm"
        if args.stand_ins:  # unit reward scale: standardizing leaves the random head's rewards as they are
            meta = {"prompts_dir": cfg.prompts_dir, "max_length": cfg.persona_rm.max_length,
                    "reward_mean": 0.0, "reward_std": 1.0}  # fmt: skip
            sft, rm = None, write_untrained_reward_model("models/base", Path(tmp) / "rm", meta)
        train_agents(
            "models/base", sft, rm, read_table("data/contexts.parquet", CONTEXTS),
            load_cards(cfg.personas.dir), cfg, Path(tmp) / "agents", Path(tmp) / "plots", callbacks=[clock],
        )  # fmt: skip
    steady = clock.times[1:] or clock.times
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    out = {
        "rank": rank, "processes": world, "steps": len(clock.times),
        "completions_per_step": g.batch_size * g.gradient_accumulation_steps * world,
        "group_size": g.num_generations, "max_completion_length": g.max_completion_length,
        "first_step_s": round(clock.times[0], 2), "seconds_per_step": round(statistics.fmean(steady), 2),
        "peak_rss_gb": round(peak_gb, 2), "torch_threads": __import__("torch").get_num_threads(),
        "gradient_checkpointing": g.gradient_checkpointing, "stand_ins": args.stand_ins,
    }  # fmt: skip
    print(json.dumps(out))
    if rank == 0:
        name = "grpo_step.stand_ins" if args.stand_ins else "grpo_step"
        record(variant(name, args.set, "grpo_agents"), {k: v for k, v in out.items() if k != "rank"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
