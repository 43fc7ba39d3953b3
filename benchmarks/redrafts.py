"""What redrafting refused companion turns buys and costs (conversation.agent_attempts, issue 33).

The evaluation's systems (evaluate.systems) answer the evaluation's held-out contexts with the trained
models of models/, as `dvc repro evaluate` has them answer, once per number of drafts in
``--attempts``. Per setting, system and dataset it prints the reply check's pass rate (on each turn as
the chat keeps it, against what was said before it), the share of turns redrafted, median words per
turn, and the generation's wall time. ``--attempts 1`` keeps every first draft; its first turns are
exactly the first drafts of the other settings (same seeds), its later turns follow its own history.

    python benchmarks/redrafts.py [--attempts 1,3] [--contexts-per-domain 1] [--set conversation.temperature=0.9]
    python benchmarks/redrafts.py --record          # also merged into metrics/bench.json under redrafts.*

Needs a finished `dvc repro` (models/base, models/sft, models/agents, models/director, data/contexts.parquet).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_record import record  # noqa: E402 - benchmarks/ is on sys.path when this file runs

from mascot.agents import Agents  # noqa: E402
from mascot.chat.directive import END  # noqa: E402
from mascot.config import load_config, parse_overrides  # noqa: E402
from mascot.data.sampling import sample_contexts  # noqa: E402
from mascot.eval.evaluate import generate_replies  # noqa: E402
from mascot.eval.systems import SYSTEMS, EvalEngines  # noqa: E402
from mascot.format_reward import ReplyCheck  # noqa: E402
from mascot.personas import load_cards  # noqa: E402
from mascot.schemas import CONTEXTS, read_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attempts", default="1,3", help="comma-separated conversation.agent_attempts to compare")
    ap.add_argument("--contexts-per-domain", type=int, help="held-out contexts per domain (default: evaluate's)")
    ap.add_argument("--set", action="append", default=[], help="params override, e.g. conversation.temperature=0.9")
    ap.add_argument("--record", action="store_true", help="merge the figures into metrics/bench.json")
    args = ap.parse_args()
    models = REPO / "models"
    figures: dict[str, float] = {}
    for attempts in [int(a) for a in args.attempts.split(",")]:
        cfg = load_config(REPO / "params.yaml", parse_overrides([*args.set, f"conversation.agent_attempts={attempts}"]))
        ev = cfg.evaluate
        contexts = read_table(REPO / "data/contexts.parquet", CONTEXTS)
        per_domain = args.contexts_per_domain or ev.contexts_per_domain
        held = sample_contexts(contexts.filter(pl.col("split") == ev.split), per_domain, ev.seed)
        cards = load_cards(cfg.personas.dir)
        engines = EvalEngines(
            str(models / "base"), str(models / "sft"), Agents.load(str(models / "agents")), str(models / "director"),
            cards, cfg,
        )  # fmt: skip
        systems = [SYSTEMS.get(n, where="evaluate.systems") for n in ev.systems]
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as resume:  # nothing cached: every turn is generated now
            replies = generate_replies(
                engines, systems, held, ev.samples, Path(resume), "bench", cfg.rollouts.chunk_size
            )
        seconds = time.perf_counter() - start
        engines.release()
        turns = replies.filter(pl.col("speaker") != END).join(held.select("context_id", "dataset"), on="context_id")
        by_id = {r["context_id"]: r for r in held.iter_rows(named=True)}
        verdicts = ReplyCheck(cfg.format_reward, cards, cfg.groups()).turns(turns.iter_rows(named=True), by_id)
        turns = turns.with_columns(
            passed=pl.Series([v.passed for v in verdicts]), words=pl.col("text").str.split(" ").list.len()
        )
        table = (
            turns.group_by("system", "dataset")
            .agg(
                pl.len().alias("turns"),
                pl.col("passed").mean().alias("pass_rate"),
                (pl.col("reply_drafts") > 1).mean().alias("redrafted"),
                pl.col("words").median().alias("median_words"),
            )  # fmt: skip
            .sort("system", "dataset")
        )
        print(f"\nagent_attempts={attempts}: generation {seconds:.0f} s for {turns.height} turns")
        for row in table.iter_rows(named=True):
            print(
                f"  {row['system']:<10} {row['dataset']:<21} turns {row['turns']:>3}  pass {row['pass_rate']:6.1%}  "
                f"redrafted {row['redrafted']:6.1%}  median words {row['median_words']:5.1f}"
            )
            key = f"attempts_{attempts}.{row['system']}.{row['dataset']}"
            figures |= {f"{key}.pass_rate": round(row["pass_rate"], 4), f"{key}.redrafted": round(row["redrafted"], 4)}
        figures[f"attempts_{attempts}.generation_s"] = round(seconds, 1)
    if args.record:
        print("recorded in", record("redrafts", figures))


if __name__ == "__main__":
    main()
