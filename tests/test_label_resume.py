"""The label stage killed with SIGKILL mid-run, in a real subprocess, then started again:
it reuses every finished judgment and ends with the tables of an uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from mascot.config import IngestConfig, JudgeConfig, dump_params, profile_config
from mascot.data.ingest import ingest
from mascot.schemas import CANDIDATES, CONTEXTS, JUDGMENTS, preference_pairs_schema, read_table, write_table

from .conftest import REPO, kill_mid_run

WORDS = ["sorry", "that sounds hard", "what happened next", "you did well", "try a walk", "I hear you", "tell me more"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_model) -> Path:
    root = tmp_path_factory.mktemp("label")
    os.chdir(REPO)
    contexts, _ = ingest(IngestConfig(splits=["train"], n_per_domain={"train": 1}))
    write_table(contexts, root / "contexts.parquet", CONTEXTS)
    cfg = profile_config("tiny")
    cfg.label.judges = [JudgeConfig(name="tiny", model=str(tiny_model), batch_size=1, min_digit_mass=0.0)]
    (root / "params.yaml").write_text(dump_params(cfg))
    rows = []
    for ctx in contexts.iter_rows(named=True):
        for persona in cfg.personas.for_dataset(ctx["dataset"]):
            for k in range(2):
                rows.append(
                    {
                        "candidate_id": f"{ctx['context_id']}|{persona}|{k}",
                        "context_id": ctx["context_id"],
                        "persona": persona,
                        "sample_idx": k,
                        "prompt": "p",
                        "response": f"{WORDS[(len(rows) * 3) % len(WORDS)]}, {WORDS[k]}.",
                        "model": "m",
                        "backend": "transformers",
                        "temperature": 0.8,
                        "top_p": 0.9,
                        "max_new_tokens": 8,
                        "seed": k,
                        "completion_tokens": 4,
                        "finish_reason": "stop",
                    }
                )
    write_table(pl.DataFrame(rows), root / "candidates.parquet", CANDIDATES)
    return root


def label_cmd(root: Path, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline.label",
        "--params",
        str(root / "params.yaml"),
        "--base",
        "unused",
        "--candidates",
        str(root / "candidates.parquet"),
        "--contexts",
        str(root / "contexts.parquet"),
        "--judgments",
        str(root / f"{name}_judgments.parquet"),
        "--pairs",
        str(root / f"{name}_pairs.parquet"),
        "--metrics",
        str(root / f"{name}_metrics.json"),
        "--cache",
        str(root / f"{name}_cache.jsonl"),
    ]


def test_sigkill_mid_run_then_resume_equals_uninterrupted(workdir):
    root = workdir
    subprocess.run(label_cmd(root, "full"), cwd=REPO, check=True, capture_output=True, timeout=600)

    done_before = kill_mid_run(label_cmd(root, "killed"), root / "killed_cache.jsonl", 20)
    total = len(read_table(root / "full_judgments.parquet", JUDGMENTS))
    assert 20 <= done_before < total, "the kill landed mid-run"
    assert not (root / "killed_judgments.parquet").exists()

    subprocess.run(label_cmd(root, "killed"), cwd=REPO, check=True, capture_output=True, timeout=600)
    metrics = json.loads((root / "killed_metrics.json").read_text())
    assert metrics["judge.tiny.cache_hits"] >= done_before - 5  # whole chunks reused (a torn one is redone)
    full = read_table(root / "full_judgments.parquet", JUDGMENTS)
    resumed = read_table(root / "killed_judgments.parquet", JUDGMENTS)
    assert resumed.equals(full)
    pairs = preference_pairs_schema(profile_config("tiny").label.delta)
    assert read_table(root / "killed_pairs.parquet", pairs).equals(read_table(root / "full_pairs.parquet", pairs))
    assert resumed.group_by("candidate_id", "judge", "criterion").len()["len"].max() == 1, "nothing judged twice"
