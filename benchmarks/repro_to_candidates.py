"""Wall time and peak memory of `dvc repro` up to the candidates, from scratch, on a profile.

Copies the pipeline into a fresh temporary git + DVC repo (nothing cached), writes the profile's
params and times `dvc repro candidates`. Peak memory is the largest resident set of any stage
process (getrusage of children).

    python benchmarks/repro_to_candidates.py [--profile default]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mascot.config import dump_params, profile_config

REPO = Path(__file__).resolve().parents[1]
COPY = ["dvc.yaml", ".dvcignore", ".gitignore", "pipeline", "mascot", "configs", "data/sample"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repo")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mascot-bench-")) / "repo"
    root.mkdir()
    for item in COPY:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, root / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, root / item)
    (root / "params.yaml").write_text(dump_params(profile_config(args.profile)))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    commit = ["git", "-c", "user.email=bench@mascot", "-c", "user.name=bench", "commit", "-q", "--allow-empty", "-m", "init"]
    for cmd in (["git", "init", "-q"], commit, ["dvc", "init", "-q"]):  # dvclive needs a commit
        subprocess.run(cmd, cwd=root, check=True, env=env)

    t = time.perf_counter()
    proc = subprocess.run(["dvc", "repro", "candidates"], cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"dvc repro failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stage_times = {}
    for name in ("base_model", "ingest", "sft", "candidates"):
        m = json.loads((root / "metrics" / f"{name}.json").read_text())
        stage_times[name] = m
    t = time.perf_counter()
    noop = subprocess.run(["dvc", "repro", "candidates"], cwd=root, env=env, capture_output=True, text=True)
    noop_s = time.perf_counter() - t
    print(json.dumps({
        "profile": args.profile,
        "stages_run": re.findall(r"Running stage '([^']+)'", proc.stdout),
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak_mb),
        "noop_repro_s": round(noop_s, 1),
        "noop_stages_run": re.findall(r"Running stage '([^']+)'", noop.stdout),
        "sft": stage_times["sft"],
        "candidates": stage_times["candidates"],
    }, indent=2))
    if not args.keep:
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    main()
