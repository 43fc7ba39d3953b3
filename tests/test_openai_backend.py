"""The OpenAI-compatible backend against a real HTTP server: llama.cpp's server on loopback
serving the offline SmolLM2 GGUF (no mocked client)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from mascot.config import OpenAIEndpoint
from mascot.llm import BackendError, SamplingParams
from mascot.llm.openai_backend import OpenAIBackend

from .conftest import free_port
from .faulty_proxy import FaultyProxy


@pytest.fixture(scope="module")
def llama_url(llama_server):
    return f"{llama_server}/v1"


MESSAGES = [
    [
        {"role": "system", "content": "You are The Anchor, a warm listener. Reply in one sentence."},
        {"role": "user", "content": f"The person says: {text}"},
    ]
    for text in (
        "My dog died yesterday.",
        "I got the job!",
        "I'm nervous about tomorrow's surgery.",
        "My best friend moved away.",
        "I finished my first marathon.",
        "I can't sleep before exams.",
    )
]


def test_concurrent_generation_over_http(llama_url):
    backend = OpenAIBackend(OpenAIEndpoint(base_url=llama_url, model="smollm2", max_concurrency=3, timeout_s=60))
    params = SamplingParams(temperature=0.0, max_new_tokens=24)
    started = time.time()
    gens = backend.generate(MESSAGES, params, seeds=list(range(len(MESSAGES))))
    assert time.time() - started < 120
    assert len(gens) == len(MESSAGES)
    for messages, gen in zip(MESSAGES, gens):
        assert gen.text.strip(), "the model answered"
        assert json.loads(gen.prompt) == messages, "the prompt recorded is exactly what was sent"
        assert 0 < gen.completion_tokens <= 24 and gen.finish_reason in ("stop", "length")


def test_answers_stay_attached_to_their_prompts_under_concurrency(llama_url):
    # llama.cpp reuses the previous prompt's KV cache, so greedy text can vary between runs;
    # a word the model is asked to repeat cannot wander to another prompt's answer.
    words = ["apple", "river", "castle", "pencil", "garden", "rocket"]
    prompts = [[{"role": "user", "content": f"Repeat this word exactly once and nothing else: {w}"}] for w in words]
    backend = OpenAIBackend(OpenAIEndpoint(base_url=llama_url, max_concurrency=3))
    gens = backend.generate(prompts, SamplingParams(temperature=0.0, max_new_tokens=8), seeds=[0] * len(words))
    own = [w in g.text.lower() for w, g in zip(words, gens)]
    assert sum(own) >= 3, [g.text for g in gens]
    for i, gen in enumerate(gens):
        assert not any(w in gen.text.lower() for j, w in enumerate(words) if j != i), (i, gen.text)


def test_unreachable_endpoint_fails_with_the_url_named():
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = OpenAIBackend(OpenAIEndpoint(base_url=url, max_retries=1, timeout_s=2))
    with pytest.raises(BackendError, match=f"{url}.*failed after 1 retries"):
        backend.generate(MESSAGES[:1], SamplingParams(max_new_tokens=4), seeds=[0])


@pytest.mark.parametrize("kind", ["truncated_json", "wrong_schema", "empty_choices", "hollow_choice"])
def test_a_malformed_answer_stops_generation_with_the_endpoint_named(llama_server, kind):
    # generation stops (its finished chunks are in the resume store) rather than record a reply it never got
    with FaultyProxy(llama_server, fail_first_n=1, first_fault=kind) as proxy:
        backend = OpenAIBackend(OpenAIEndpoint(base_url=proxy.url, model="smollm2", max_retries=0))
        with pytest.raises(BackendError, match=f"{proxy.url}.*smollm2"):
            backend.generate(MESSAGES[:1], SamplingParams(max_new_tokens=4), seeds=[0])
        assert proxy.counts[kind] == 1


def test_api_key_comes_from_the_named_environment_variable(monkeypatch):
    from mascot.llm.openai_backend import api_key

    endpoint = OpenAIEndpoint(api_key_env="MASCOT_TEST_KEY")
    monkeypatch.delenv("MASCOT_TEST_KEY", raising=False)
    assert api_key(endpoint) == "EMPTY"
    monkeypatch.setenv("MASCOT_TEST_KEY", "sk-secret")
    assert api_key(endpoint) == "sk-secret"
    assert "sk-secret" not in endpoint.model_dump_json()


def test_candidates_stage_through_an_endpoint(llama_url, tmp_path, monkeypatch):
    """The candidates stage switched to the openai backend by params alone; the API key set in
    the environment reaches the server but none of the stage's outputs."""

    import polars as pl

    from mascot.config import IngestConfig, dump_params, profile_config
    from mascot.data.ingest import ingest
    from mascot.schemas import CANDIDATES, CONTEXTS, read_table, write_table

    from .conftest import REPO

    monkeypatch.chdir(REPO)
    contexts, _ = ingest(IngestConfig(splits=["train"], n_per_domain={"train": 1}))
    # one domain of each dataset (both persona sets) keeps the single-threaded server's requests few
    contexts = contexts.filter(pl.col("domain").is_in(["negative", "product"]))
    write_table(contexts, tmp_path / "contexts.parquet", CONTEXTS)
    cfg = profile_config("tiny")
    cfg.candidates.generation.backend = "openai"
    cfg.candidates.generation.endpoint.base_url = llama_url
    cfg.candidates.generation.endpoint.api_key_env = "MASCOT_TEST_KEY"
    (tmp_path / "params.yaml").write_text(dump_params(cfg))
    secret = "sk-test-5d1c0ffee"
    out = {name: tmp_path / name for name in ("candidates.parquet", "candidates.json", "resume.jsonl")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.candidates",
            "--params",
            str(tmp_path / "params.yaml"),
            "--base",
            "unused",
            "--sft",
            "unused",
            "--contexts",
            str(tmp_path / "contexts.parquet"),
            "--out",
            str(out["candidates.parquet"]),
            "--metrics",
            str(out["candidates.json"]),
            "--resume",
            str(out["resume.jsonl"]),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "MASCOT_TEST_KEY": secret},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = read_table(out["candidates.parquet"], CANDIDATES)
    assert table.height == 2 * 4 * 2 and (table["backend"] == "openai").all()
    assert table["model"].str.contains(llama_url, literal=True).all()
    assert (table["response"].str.len_chars() > 0).mean() > 0.9
    assert pl.Series([json.loads(p)[0]["role"] for p in table["prompt"]]).eq("system").all()
    for path in (*out.values(), tmp_path / "params.yaml"):
        assert secret not in path.read_bytes().decode("utf-8", "replace"), f"API key leaked into {path.name}"
    assert secret not in proc.stdout + proc.stderr
