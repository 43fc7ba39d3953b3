"""The OpenAI-compatible backend against a real HTTP server: llama.cpp's server on loopback
serving the offline SmolLM2 GGUF (no mocked client)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from mascot.config import OpenAIEndpoint
from mascot.llm import BackendError, SamplingParams
from mascot.llm.base_model import offline_gguf
from mascot.llm.openai_backend import OpenAIBackend


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server():
    folder, name = offline_gguf()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", f"{folder}/{name}", "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--interrupt_requests", "false", "--seed", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama.cpp server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(f"{url}/models", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama.cpp server did not come up within 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


MESSAGES = [
    [{"role": "system", "content": "You are The Anchor, a warm listener. Reply in one sentence."},
     {"role": "user", "content": f"The person says: {text}"}]
    for text in ("My dog died yesterday.", "I got the job!", "I'm nervous about tomorrow's surgery.",
                 "My best friend moved away.", "I finished my first marathon.", "I can't sleep before exams.")
]


def test_concurrent_generation_over_http(llama_server):
    backend = OpenAIBackend(OpenAIEndpoint(base_url=llama_server, model="smollm2", max_concurrency=3, timeout_s=60))
    params = SamplingParams(temperature=0.0, max_new_tokens=24)
    started = time.time()
    gens = backend.generate(MESSAGES, params, seeds=list(range(len(MESSAGES))))
    assert time.time() - started < 120
    assert len(gens) == len(MESSAGES)
    for messages, gen in zip(MESSAGES, gens):
        assert gen.text.strip(), "the model answered"
        assert json.loads(gen.prompt) == messages, "the prompt recorded is exactly what was sent"
        assert 0 < gen.completion_tokens <= 24 and gen.finish_reason in ("stop", "length")
    # answers stay attached to their own prompts under concurrency: greedy is deterministic
    again = backend.generate(MESSAGES[::-1], params, seeds=list(range(len(MESSAGES))))
    assert [g.text for g in again[::-1]] == [g.text for g in gens]


def test_unreachable_endpoint_fails_with_the_url_named():
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = OpenAIBackend(OpenAIEndpoint(base_url=url, max_retries=1, timeout_s=2))
    with pytest.raises(BackendError, match=f"{url}.*failed after 1 retries"):
        backend.generate(MESSAGES[:1], SamplingParams(max_new_tokens=4), seeds=[0])


def test_api_key_comes_from_the_named_environment_variable(monkeypatch):
    from mascot.llm.openai_backend import api_key

    endpoint = OpenAIEndpoint(api_key_env="MASCOT_TEST_KEY")
    monkeypatch.delenv("MASCOT_TEST_KEY", raising=False)
    assert api_key(endpoint) == "EMPTY"
    monkeypatch.setenv("MASCOT_TEST_KEY", "sk-secret")
    assert api_key(endpoint) == "sk-secret"
    assert "sk-secret" not in endpoint.model_dump_json()
