"""A δ × β parameter sweep through DVC's experiment queue, end to end, in a scratch repo.

Builds a git + DVC repo of this pipeline on the tiny profile (the random tiny model the tests
build, so the sweep shows the mechanics in minutes, not the science), reproduces it once and
commits, queues one experiment per (label.delta, grpo_agents.beta) with `dvc exp run --queue`,
runs the queue with `dvc queue start -j N`, waits, and prints `dvc exp show` and the timings.
Exactly the commands a user types in their own clone, where the same sweep runs on the
offline default.

    python benchmarks/exp_sweep.py [--jobs 2] [--delta 0.01 0.02] [--beta 0.0 0.04] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mascot.config import dump_params  # noqa: E402
from tests.conftest import build_tiny_model, command_env, copy_pipeline, tiny_params  # noqa: E402

TARGET = "grpo_agents"  # δ and β act on Stage 1; the sweep stops at its last stage
SHOWN = r"Experiment|label\.delta|grpo_agents\.beta|^pairs$|^eval_accuracy$|^persona_rm_gain$|^format_pass_rate_after$"


def sh(*cmd: str, cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=command_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def scratch_repo(root: Path) -> Path:
    repo = copy_pipeline(root / "repo")
    (repo / "params.yaml").write_text(dump_params(tiny_params(build_tiny_model(root / "tiny_model"))))
    git = ("git", "-c", "user.email=bench@mascot", "-c", "user.name=bench")
    sh("git", "init", "-q", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    sh("dvc", "repro", TARGET, cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh(*git, "commit", "-q", "-m", "baseline", cwd=repo)
    return repo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="queue workers (dvc queue start -j)")
    ap.add_argument("--delta", type=float, nargs="+", default=[0.01, 0.3], help="label.delta values")
    ap.add_argument("--beta", type=float, nargs="+", default=[0.0, 0.2], help="grpo_agents.beta values")
    ap.add_argument("--keep", type=Path, help="build the scratch repo here and keep it (default: a temp dir)")
    args = ap.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="mascot-sweep-"))
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    repo = scratch_repo(root)
    baseline_s = time.perf_counter() - start
    grid = list(itertools.product(args.delta, args.beta))
    for delta, beta in grid:
        sh("dvc", "exp", "run", TARGET, "--queue", "-n", f"d{delta:g}-b{beta:g}",
           "-S", f"label.delta={delta}", "-S", f"grpo_agents.beta={beta}", cwd=repo)  # fmt: skip
    start = time.perf_counter()
    sh("dvc", "queue", "start", "-j", str(args.jobs), cwd=repo)
    while True:  # workers run in the background; the queue is done when nothing is queued or running
        status = sh("dvc", "queue", "status", cwd=repo)
        if not any(state in status for state in ("Queued", "Running")):
            break
        time.sleep(5)
    sweep_s = time.perf_counter() - start
    if "Failed" in status:
        print(status)
        raise SystemExit(f"an experiment failed; `dvc queue logs <name>` in {repo} says why")
    print("$ dvc queue status\n" + status)
    print(f"$ dvc exp show --md --drop '.*' --keep '{SHOWN}'")
    print(sh("dvc", "exp", "show", "--md", "--drop", ".*", "--keep", SHOWN, cwd=repo))
    print(f"baseline dvc repro {TARGET}: {baseline_s:.0f} s")
    print(f"{len(grid)} experiments with -j {args.jobs}: {sweep_s:.0f} s ({sweep_s / len(grid):.0f} s each on average)")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
