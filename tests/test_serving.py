"""The trained group on an OpenAI-compatible server (serving.*): each adapter is asked for by its
served model name, as vLLM serves LoRA modules; a missing name stops the stage before it generates;
`mascot export-serving` writes the merged π_SFT those adapters sit on. The server is llama.cpp's,
serving the offline GGUF under every name, behind a proxy that records which model each request named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mascot.config import IngestConfig, dump_params, profile_config
from mascot.schemas import CONTEXTS, ROLLOUTS, read_table, write_table

from .conftest import REPO, running_llama_server
from .faulty_proxy import FaultyProxy

SERVED = {"shared": "mascot-agents", "director_sft": "mascot-director-sft", "director": "mascot-director"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A recording proxy in front of a llama.cpp server with π_SFT's and every adapter's name."""
    aliases = ["mascot-sft", *SERVED.values()]
    with running_llama_server(tmp_path_factory.mktemp("served"), aliases=aliases) as base:
        with FaultyProxy(upstream=base) as proxy:
            yield proxy


def rollouts(tmp_path, tiny_group, proxy, models):
    from mascot.data.ingest import ingest

    contexts, _ = ingest(IngestConfig(datasets=["empathetic_dialogues"], splits=["train"], n_per_domain={"train": 1}))
    contexts = contexts.filter(contexts["domain"] == "negative")  # one context: the single-threaded server is slow
    write_table(contexts, tmp_path / "contexts.parquet", CONTEXTS)
    cfg = profile_config("tiny")
    cfg.ingest.datasets = ["empathetic_dialogues"]
    cfg.serving.backend = "openai"
    cfg.serving.endpoint.base_url = proxy.url
    cfg.serving.models = models
    (tmp_path / "params.yaml").write_text(dump_params(cfg))
    models_dir = tiny_group / "models"
    return subprocess.run(
        [sys.executable, "-m", "pipeline.rollouts", "--params", str(tmp_path / "params.yaml"),
         "--base", str(models_dir / "base"), "--sft", str(models_dir / "sft"), "--agents", str(models_dir / "agents"),
         "--director", str(models_dir / "director"), "--contexts", str(tmp_path / "contexts.parquet"),
         "--out", str(tmp_path / "rollouts.parquet"), "--metrics", str(tmp_path / "rollouts.json"),
         "--resume", str(tmp_path / "resume.jsonl")],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=os.environ.copy(),
    )  # fmt: skip


def test_rollouts_ask_the_server_for_each_adapter_by_its_served_name(served, tiny_group, tmp_path):
    before = served.models
    proc = rollouts(tmp_path, tiny_group, served, SERVED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = read_table(tmp_path / "rollouts.parquet", ROLLOUTS)
    assert table["block_id"].n_unique() == 2  # 1 context × 2 samples
    assert table.filter(table["speaker"] != "END").height >= 2  # every block has an agent turn
    asked = {m: n - before.get(m, 0) for m, n in served.models.items() if n > before.get(m, 0)}
    # the warm-started director and the shared agents' adapter; nothing went to the plain π_SFT
    assert set(asked) == {"mascot-director-sft", "mascot-agents"}, asked
    assert asked["mascot-agents"] >= 2


def test_an_adapter_without_a_served_name_stops_the_stage_before_it_generates(served, tiny_group, tmp_path):
    before = served.requests
    # the director is served, the agents' adapter is not: a run would send the director's requests first
    proc = rollouts(tmp_path, tiny_group, served, {"director_sft": "mascot-director-sft"})
    assert proc.returncode != 0
    assert "serving.models" in proc.stderr and "'shared'" in proc.stderr, proc.stderr[-2000:]
    assert served.requests == before and not (tmp_path / "rollouts.parquet").exists()


def test_export_serving_writes_the_merged_sft_and_the_vllm_command(tiny_group, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from mascot.agents import load_policy

    out = subprocess.run(
        [sys.executable, "-m", "mascot.cli", "export-serving", "--repo", str(tiny_group), "-o", str(tmp_path / "serving")],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout.split()  # fmt: skip
    assert out[:3] == ["vllm", "serve", str(tmp_path / "serving/sft")]
    assert out[out.index("--served-model-name") + 1] == "mascot-sft"
    modules = out[out.index("--lora-modules") + 1 :]
    assert modules == [
        f"mascot-agents={tiny_group / 'models/agents/shared'}",
        f"mascot-director={tiny_group / 'models/director'}",
    ]
    assert out[out.index("--max-lora-rank") + 1] == "4"
    ids = torch.tensor([[1, 5, 9, 2]])
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "serving/sft")
    expected = load_policy(tiny_group / "models/base", tiny_group / "models/sft")
    assert torch.allclose(merged(ids).logits, expected(ids).logits, atol=1e-5)
