"""Each long stage killed with SIGKILL mid-run, in a real subprocess, then started again: it picks up
what its store already holds and ends with exactly the outputs of an uninterrupted run. (The label
stage has its own test in test_label_resume.py; this covers the others a user waits hours for.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mascot.config import IngestConfig, JudgeConfig, dump_params, profile_config
from mascot.data.ingest import ingest
from mascot.schemas import (
    CANDIDATES,
    CONTEXTS,
    EVAL_REPLIES,
    JUDGMENTS,
    MBTI_CONVERSATIONS,
    ROLLOUTS,
    read_table,
    write_table,
)

from .conftest import REPO, kill_mid_run, store_lines

# what each stage is given besides --params ({run} is the run's own folder, {models} the tiny group's),
# the store a kill waits on, the tables compared, and how far the killed run must get first
STAGES = {
    "candidates": (
        {"base": "{models}/base", "sft": "{models}/sft", "contexts": "{work}/contexts.parquet",
         "out": "{run}/candidates.parquet", "metrics": "{run}/metrics.json", "resume": "{run}/store.jsonl"},
        {"candidates.parquet": CANDIDATES}, 3,
    ),
    "rollouts": (
        {"base": "{models}/base", "sft": "{models}/sft", "agents": "{models}/agents", "director": "{models}/director",
         "contexts": "{work}/contexts.parquet", "out": "{run}/rollouts.parquet", "metrics": "{run}/metrics.json",
         "resume": "{run}/store.jsonl"},
        {"rollouts.parquet": ROLLOUTS}, 2,
    ),
    "group_label": (
        {"base": "{models}/base", "rollouts": "{work}/rollouts/full/rollouts.parquet", "contexts": "{work}/contexts.parquet",
         "judgments": "{run}/judgments.parquet", "pairs": "{run}/pairs.parquet", "metrics": "{run}/metrics.json",
         "cache": "{run}/store.jsonl"},
        {"judgments.parquet": JUDGMENTS}, 3,
    ),
    "evaluate": (  # killed while judging: the replies come back from their stores, the judgments from the cache
        {"base": "{models}/base", "sft": "{models}/sft", "agents": "{models}/agents", "director": "{models}/director",
         "contexts": "{work}/contexts.parquet", "replies": "{run}/replies.parquet", "judgments": "{run}/judgments.parquet",
         "metrics": "{run}/metrics.json", "plots": "{run}/plots", "resume": "{run}/resume", "cache": "{run}/store.jsonl"},
        {"replies.parquet": EVAL_REPLIES, "judgments.parquet": JUDGMENTS}, 20,
    ),
    "mbti": (  # killed while the simulated users talk: a finished type's conversations come back from the store
        {"base": "{models}/base", "sft": "{models}/sft", "agents": "{models}/agents", "director": "{models}/director",
         "contexts": "{work}/contexts.parquet", "conversations": "{run}/conversations.parquet",
         "judgments": "{run}/judgments.parquet", "metrics": "{run}/metrics.json", "plots": "{run}/plots",
         "resume": "{run}/store.jsonl", "cache": "{run}/cache.jsonl"},
        {"conversations.parquet": MBTI_CONVERSATIONS, "judgments.parquet": JUDGMENTS}, 1,
    ),
}  # fmt: skip
# bookkeeping of this run's calls, which a resumed run rightly reports differently
ACCOUNTING = (".calls", ".cache_hits", ".prompt_tokens", ".completion_tokens", ".retries", ".failures")


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_group) -> Path:
    root = tmp_path_factory.mktemp("kill")
    os.chdir(REPO)
    contexts, _ = ingest(IngestConfig(splits=["train", "valid"], n_per_domain={"train": 1, "valid": 1}))
    write_table(contexts, root / "contexts.parquet", CONTEXTS)
    cfg = profile_config("tiny")
    cfg.model.base = str(tiny_group / "models/base")
    cfg.candidates.generation.batch_size = 2  # chunks of 4 requests: many store lines to land a kill between
    cfg.rollouts.chunk_size = 2
    judge = JudgeConfig(name="tiny", model=str(tiny_group / "models/base"), batch_size=1, min_digit_mass=0.0)
    cfg.group_label.judges = [judge]
    cfg.evaluate.judges = [judge]
    (root / "params.yaml").write_text(dump_params(cfg))
    return root


def command(work: Path, tiny_group: Path, stage: str, run: str) -> list[str]:
    args, _, _ = STAGES[stage]
    where = {"work": str(work), "models": str(tiny_group / "models"), "run": str(work / stage / run)}
    (work / stage / run).mkdir(parents=True, exist_ok=True)
    flags = [part for key, value in args.items() for part in (f"--{key}", value.format(**where))]
    return [sys.executable, "-m", f"pipeline.{stage}", "--params", str(work / "params.yaml"), *flags]


def run_to_end(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def comparable(metrics_path: Path) -> dict:
    return {k: v for k, v in json.loads(metrics_path.read_text()).items() if not k.endswith(ACCOUNTING)}


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_stage_killed_mid_run_resumes_to_the_uninterrupted_outputs(work, tiny_group, stage):
    _, tables, min_lines = STAGES[stage]
    if stage == "group_label" and not (work / "rollouts/full/rollouts.parquet").exists():
        run_to_end(command(work, tiny_group, "rollouts", "full"))
    full, killed = work / stage / "full", work / stage / "killed"
    run_to_end(command(work, tiny_group, stage, "full"))

    store = killed / "store.jsonl"
    kept = kill_mid_run(command(work, tiny_group, stage, "killed"), store, min_lines)
    assert min_lines <= kept < store_lines(full / "store.jsonl"), "the kill landed mid-run"
    last = list(tables)[-1]  # written once the store is complete (evaluate writes its replies before judging)
    assert not (killed / last).exists(), "no finished output from a killed run"

    run_to_end(command(work, tiny_group, stage, "killed"))
    assert store_lines(store) <= store_lines(full / "store.jsonl") + 1, (
        "finished work was done again (a torn line may be)"
    )
    for name, schema in tables.items():
        assert read_table(killed / name, schema).equals(read_table(full / name, schema)), name
    assert comparable(killed / "metrics.json") == comparable(full / "metrics.json")
