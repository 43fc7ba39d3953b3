"""The pipeline's budget on a reproduced workspace: a no-op `dvc repro`, `dvc status`, and which
stages a changed evaluation parameter re-runs (`dvc repro --dry`, nothing computed) and what lies
below them in the DAG (re-run when their outputs change).

Run it in a workspace where `dvc repro` has finished (`dvc status` clean). It edits params.yaml
for the dry run and restores it, even on Ctrl-C. Figures are printed and merged into
metrics/bench.json.

    python benchmarks/pipeline_budget.py [--runs 3] [--param evaluate.confidence=0.8]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import time
from pathlib import Path

import yaml
from bench_record import record  # benchmarks/ is on sys.path when this file runs

REPO = Path(__file__).resolve().parents[1]


def dvc(*args: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(["dvc", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, proc.stdout + proc.stderr


def set_param(text: str, dotted: str, value: str) -> str:
    data = yaml.safe_load(text)
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    if leaf not in node:
        raise SystemExit(f"--param: no '{dotted}' in params.yaml")
    node[leaf] = yaml.safe_load(value)
    return yaml.safe_dump(data, sort_keys=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="no-op repro timings (the median is reported)")
    ap.add_argument("--param", default="evaluate.confidence=0.8", help="the evaluation param the dry run changes")
    args = ap.parse_args()

    _, status = dvc("status")
    if "up to date" not in status:
        raise SystemExit(f"the workspace is not reproduced; run `dvc repro` first:\n{status}")
    noop = []
    for _ in range(args.runs):
        seconds, out = dvc("repro")
        if "Running stage" in out:
            raise SystemExit(f"`dvc repro` ran a stage; the workspace changed:\n{out}")
        noop.append(seconds)
    status_s, _ = dvc("status")

    params = REPO / "params.yaml"
    original = params.read_text(encoding="utf-8")
    name, value = args.param.split("=", 1)
    try:
        params.write_text(set_param(original, name, value), encoding="utf-8")
        _, dry = dvc("repro", "--dry")
    finally:
        params.write_text(original, encoding="utf-8")
    rerun = re.findall(r"Running stage '([^']+)'", dry)
    # a dry run cannot know which outputs will change, so the stages below the changed ones are listed
    # from the DAG: what re-runs when every changed stage writes something new
    downstream: list[str] = []
    for stage in rerun:
        _, below = dvc("repro", "--dry", "--force", "--downstream", stage)
        downstream += [s for s in re.findall(r"Running stage '([^']+)'", below) if s not in rerun + downstream]

    figures = {
        "noop_repro_s": round(statistics.median(noop), 2), "noop_repro_runs": len(noop),
        "status_s": round(status_s, 2), "changed_param": args.param, "changed_param_reruns": rerun,
        "changed_param_downstream": downstream,
    }  # fmt: skip
    for key, val in figures.items():
        print(f"{key:24} {val}")
    bench = record("pipeline", figures)
    print(f"→ {bench}")


if __name__ == "__main__":
    main()
