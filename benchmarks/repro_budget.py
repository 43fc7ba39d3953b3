"""Wall time and peak memory of `dvc repro` from scratch, on a profile, up to a stage or the whole
pipeline; then a no-op `dvc repro`.

Copies the pipeline into a fresh git + DVC repo (nothing cached, no commit yet, as a new user's
first run), writes the profile's params, and times `dvc repro [target]`. Peak memory is the largest
resident set of any stage process (getrusage of children); each stage's own wall time and peak
(stage_watch.py) show where the time and memory go. Figures are printed and merged into
metrics/bench.json under `repro.<profile>.<target>.*`.

    python benchmarks/repro_budget.py [--profile default] [--target candidates]   # the whole pipeline without --target
    python benchmarks/repro_budget.py --profile tiny --tiny-model                  # minutes: a random tiny model
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_record import record  # noqa: E402 - benchmarks/ is on sys.path when this file runs
from stage_watch import flat, run_watched, table  # noqa: E402

from mascot.config import dump_params, profile_config  # noqa: E402
from tests.conftest import build_tiny_model, command_env, copy_pipeline, tiny_params  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--target", help="stop after this stage (default: the whole pipeline)")
    ap.add_argument("--tiny-model", action="store_true", help="the tests' random tiny model as model.base")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repo")
    args = ap.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="mascot-bench-"))
    root = copy_pipeline(scratch / "repo")
    if args.tiny_model:
        cfg = tiny_params(build_tiny_model(scratch / "tiny_model"), args.profile)
    else:
        cfg = profile_config(args.profile)
    (root / "params.yaml").write_text(dump_params(cfg))
    env = command_env()
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=root, check=True, env=env)
    shutil.copytree(REPO / ".dvc/plots", root / ".dvc/plots", dirs_exist_ok=True)  # the heatmap template

    repro = ["dvc", "repro", *([args.target] if args.target else [])]
    log = scratch / "repro.log"
    t = time.perf_counter()
    returncode, stages = run_watched(repro, root, env, log)
    wall = time.perf_counter() - t
    output = log.read_text()
    if returncode != 0:
        sys.exit(f"dvc repro failed:\n{output[-6000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    t = time.perf_counter()
    noop = subprocess.run(repro, cwd=root, env=env, capture_output=True, text=True)
    noop_s = time.perf_counter() - t
    figures = {
        "stages_run": len(re.findall(r"Running stage '([^']+)'", output)),
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak_mb),
        "noop_repro_s": round(noop_s, 1),
        "noop_stages_run": len(re.findall(r"Running stage '([^']+)'", noop.stdout)),
    }
    print(json.dumps({"profile": args.profile, "target": args.target or "all", **figures}, indent=2))
    print(table(stages))
    prefix = f"repro.{args.profile}{'_tiny_model' if args.tiny_model else ''}.{args.target or 'all'}"
    bench = record(prefix, {**figures, **{f"stage.{k}": v for k, v in flat(stages).items()}})
    print(f"→ {bench}")
    if not args.keep:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
