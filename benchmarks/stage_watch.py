"""Wall time and peak memory of each pipeline stage of a running `dvc repro`.

Polls the process tree under a `dvc repro` and attributes each `python -m pipeline.<stage>`
process (and, under `accelerate launch`, its worker processes) to its stage. A stage's memory is
the sum of its processes' resident sets at one instant, so two DDP workers count twice, as they do
on the machine. Use it inside another benchmark (repro_budget.py) or attach it to a run already
going:

    python benchmarks/stage_watch.py --attach $(pgrep -f "dvc repro" | head -1) [--record default]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
from pathlib import Path

import psutil

STAGE = re.compile(r"-m\s+pipeline\.(\w+)")


def _stage_of(proc: psutil.Process, seen: dict[int, str]) -> str | None:
    """A stage script's process, or a child of one (accelerate's workers), keyed to the stage."""
    if proc.pid in seen:
        return seen[proc.pid]
    try:
        match = STAGE.search(" ".join(proc.cmdline()))
        stage = match.group(1) if match else None
        if stage is None and proc.ppid() in seen:
            stage = seen[proc.ppid()]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if stage:
        seen[proc.pid] = stage
    return stage


def _alive(proc: psutil.Process) -> bool:
    try:  # a child that exited stays a zombie until its parent waits for it
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def watch_stages(root_pid: int, interval: float = 0.5, on_done=None) -> dict[str, dict[str, float]]:
    """Until `root_pid` exits: {stage: {"wall_s", "peak_rss_mb"}} in the order stages started.

    A stage's start is its first process's start, so attaching mid-stage still times it whole;
    ``on_done(stage, figures)`` is called as each stage ends, so a run cut short keeps what finished."""
    root = psutil.Process(root_pid)
    seen: dict[int, str] = {}
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    peak: dict[str, float] = {}
    done: set[str] = set()

    def figures(s: str) -> dict[str, float]:
        return {"wall_s": round(last[s] - first[s] + interval, 1), "peak_rss_mb": round(peak[s])}

    while _alive(root):
        now = time.time()
        rss: dict[str, float] = {}
        try:
            # parents before children, so a worker finds its launcher already keyed
            children = sorted(root.children(recursive=True), key=lambda p: p.pid)
        except psutil.NoSuchProcess:
            break
        for proc in children:
            stage = _stage_of(proc, seen)
            if stage is None:
                continue
            try:
                rss[stage] = rss.get(stage, 0.0) + proc.memory_info().rss / 2**20
                first[stage] = min(first.get(stage, now), proc.create_time())
            except psutil.NoSuchProcess:
                continue
        for stage in [s for s in last if s not in rss and s not in done]:
            done.add(stage)
            if on_done:
                on_done(stage, figures(stage))
        for stage, mb in rss.items():
            last[stage] = now
            peak[stage] = max(peak.get(stage, 0.0), mb)
        time.sleep(interval)
    return {s: figures(s) for s in first}


def run_watched(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[int, dict[str, dict[str, float]]]:
    """Run ``cmd`` with its output in ``log`` and watch its stages: (return code, figures per stage)."""
    with log.open("w") as out:  # a file, not a pipe: stages print for hours while this process watches
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        stages = watch_stages(proc.pid)
        return proc.wait(), stages


def flat(stages: dict[str, dict[str, float]]) -> dict[str, float]:
    """``{stage}.{figure}`` keys, as metrics/bench.json holds them."""
    return {f"{s}.{k}": v for s, fig in stages.items() for k, v in fig.items()}


def table(stages: dict[str, dict[str, float]]) -> str:
    rows = [f"{'stage':<16}{'wall (min)':>11}{'peak RSS (GB)':>15}"]
    rows += [f"{s:<16}{v['wall_s'] / 60:>11.1f}{v['peak_rss_mb'] / 1024:>15.2f}" for s, v in stages.items()]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attach", type=int, required=True, help="PID of a running `dvc repro`")
    ap.add_argument(
        "--record", metavar="PROFILE", help="merge the figures into metrics/bench.json under stage.PROFILE.*"
    )
    args = ap.parse_args()
    stages = watch_stages(args.attach, on_done=lambda s, fig: print(s, json.dumps(fig), flush=True))
    print(table(stages))
    print(json.dumps(stages, indent=2))
    if args.record:
        from bench_record import record

        record(f"stage.{args.record}", flat(stages))


if __name__ == "__main__":
    main()
