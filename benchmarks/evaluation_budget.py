"""Wall time and peak memory of the evaluation stages (evaluate, mbti, report) on stand-ins for the
trained models, so they can be measured without the hours of training that come first.

Builds a workspace beside this repo's code: params.yaml (a profile plus --set overrides), the
contexts (the ingest stage), this repo's models/base (`dvc repro base_model`), and untrained
stand-ins for models/sft, models/agents and models/director with the LoRA shapes the profile
trains (mascot/stand_ins.py). Then it runs the stages' own commands from dvc.yaml in order and
watches each (stage_watch.py). Figures are printed and merged into metrics/bench.json under
`evaluation.<label>.*`, with the counts they were measured at.

Stand-ins speak as the bare base model, so the replies, directives and fall-backs differ from a
trained group's: the figures are the stages' cost at these shapes and counts, not a trained run's
to the second.

    python benchmarks/evaluation_budget.py                              # the default profile: hours on 2 cores
    python benchmarks/evaluation_budget.py --label small --set evaluate.contexts_per_domain=1 \\
        --set "evaluate.systems=[mascot, single]" --set "mbti.types=[INTJ, ESFP]"
    python benchmarks/evaluation_budget.py --stages evaluate --label esc --set "evaluate.systems=[multiagent_esc]"
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_record import record  # noqa: E402 - benchmarks/ is on sys.path when this file runs
from stage_watch import flat, run_watched, table  # noqa: E402

from mascot.config import MascotConfig, dump_params, load_config, parse_overrides, profile_config  # noqa: E402
from mascot.stand_ins import write_untrained_group  # noqa: E402
from tests.conftest import command_env  # noqa: E402

STAGES = ["evaluate", "mbti", "report"]  # report reads what the other two wrote
LINKED = ["pipeline", "mascot", "configs", "data/sample"]  # code and inputs the stages read, as in the repo


def workspace(root: Path, base: Path, profile: str, overrides: dict) -> MascotConfig:
    root.mkdir(parents=True)
    for item in LINKED:
        (root / item).parent.mkdir(parents=True, exist_ok=True)
        (root / item).symlink_to(REPO / item)
    (root / "params.yaml").write_text(dump_params(profile_config(profile)))
    cfg = load_config(root / "params.yaml", overrides)  # validated: a typo in --set stops here
    (root / "params.yaml").write_text(dump_params(cfg))
    (root / "models").mkdir()
    (root / "models/base").symlink_to(base.resolve())
    write_untrained_group(base, root / "models", cfg)
    return cfg


def counts(root: Path, stages: list[str]) -> dict[str, float]:
    """What the stages did, from their own outputs: the units the wall times cover."""
    import polars as pl

    def rows(name: str) -> int:
        return pl.scan_parquet(root / f"data/{name}.parquet").select(pl.len()).collect().item()

    figures = {}
    if "evaluate" in stages:
        ev = json.loads((root / "metrics/eval.json").read_text())
        figures |= {
            "evaluate.conversations": ev["replies"],  # one per (system, context, sample)
            "evaluate.turns": rows("eval_replies"),
            "evaluate.judgments": rows("eval_judgments"),  # one per (turn, criterion) and pairwise comparison
        }
    if "mbti" in stages:
        mbti = json.loads((root / "metrics/mbti.json").read_text())
        figures |= {"mbti.types": mbti["types"], "mbti.conversations": mbti["conversations"],
                    "mbti.turns": rows("mbti_conversations"), "mbti.judgments": rows("mbti_judgments")}  # fmt: skip
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--profile", default="default")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a param, YAML value (e.g. evaluate.contexts_per_domain=1)",
    )
    ap.add_argument("--label", help="key in metrics/bench.json (default: the profile's name; required with --set)")
    ap.add_argument("--base", type=Path, default=REPO / "models/base", help="the base model folder")
    ap.add_argument(
        "--stages",
        nargs="+",
        choices=STAGES,
        default=STAGES,
        help="which to run, in pipeline order (report needs evaluate's and mbti's outputs)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the workspace")
    args = ap.parse_args()
    if args.set and not args.label:
        ap.error("--label is required with --set: the figures are of another scale than the profile's")
    if not (args.base / "config.json").exists():
        sys.exit(f"{args.base}: no model there; run `dvc repro base_model` first")
    overrides = parse_overrides(args.set)

    scratch = Path(tempfile.mkdtemp(prefix="mascot-eval-bench-"))
    t = time.perf_counter()
    root = scratch / "ws"
    cfg = workspace(root, args.base, args.profile, overrides)
    print(f"workspace and stand-ins: {time.perf_counter() - t:.0f} s ({root})", flush=True)
    commands = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    stages = ["ingest", *(s for s in STAGES if s in args.stages)]  # ingest: the contexts they read (seconds)
    script = " && ".join(" ".join(commands[s]["cmd"].split()) for s in stages)
    log = scratch / "stages.log"
    returncode, watched = run_watched(["sh", "-c", script], root, command_env(), log)
    if returncode != 0:
        sys.exit(f"the stages failed ({shlex.quote(script)}):\n{log.read_text()[-6000:]}")
    figures = {
        **({"evaluate.systems": len(cfg.evaluate.systems)} if "evaluate" in stages else {}),
        **counts(root, stages),
        **flat({s: v for s, v in watched.items() if s != "ingest"}),
    }
    print(json.dumps({"profile": args.profile, "overrides": overrides, **figures}, indent=2))
    print(table(watched))
    print(f"→ {record(f'evaluation.{args.label or args.profile}', figures)}")
    if not args.keep:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
