"""Is the llama.cpp test server computing the right tokens on this CPU?

A natively tuned llama.cpp build can pick kernels that compute garbage on some CPUs (0.3.16's AMX path on
an Intel Xeon: "Repeat this word exactly once and nothing else: apple" answered `The word "shorter" is not
a word.`), and the tests that talk to that server then fail in ways that say nothing about the cause. Each
server the tests start is asked a few greedy questions first and its answers are compared with
transformers' greedy answers on the same GGUF, computed in-process once and kept in ``build/`` (keyed by
the GGUF and the transformers version, so a new model or library recomputes them).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from pathlib import Path

PROMPTS = (
    "Repeat this word exactly once and nothing else: apple",
    "Name the capital of France in one word.",
    "Write one short sentence about a river in spring, and nothing else.",
    "My exam went badly and I feel like a failure. What would you tell me?",
)
MAX_TOKENS = 10
WORDS = 3  # answers agree when their first three words do
MIN_AGREEING = len(PROMPTS) - 1  # one near-tie between the quantised and float32 paths is tolerated

CACHE = Path(__file__).resolve().parents[1] / "build" / "llama_check.json"


class BrokenLlamaBuild(AssertionError):
    pass


def reference_answers(gguf: Path) -> list[str]:
    """transformers' greedy answers on the GGUF (dequantised to float32), cached by GGUF and library version."""
    import transformers

    stat = gguf.stat()
    prompts_key = hashlib.sha256(json.dumps([PROMPTS, MAX_TOKENS]).encode()).hexdigest()[:12]
    key = f"{gguf.name}:{stat.st_size}:transformers-{transformers.__version__}:{prompts_key}"
    cached = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if key in cached:
        return cached[key]
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    answers = []
    for prompt in PROMPTS:
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        out = model.generate(**ids, max_new_tokens=MAX_TOKENS, do_sample=False)
        answers.append(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    tmp = CACHE.with_suffix(f".{os.getpid()}.tmp")  # two test workers may write at once
    tmp.write_text(json.dumps({**cached, key: answers}, indent=1))
    tmp.replace(CACHE)
    return answers


def server_answers(base_url: str, model: str, api_key: str | None) -> list[str]:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    answers = []
    for prompt in PROMPTS:
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": MAX_TOKENS,
                "temperature": 0, "seed": 0}  # fmt: skip
        request = urllib.request.Request(f"{base_url}/v1/chat/completions", json.dumps(body).encode(), headers)
        with urllib.request.urlopen(request, timeout=120) as response:
            answers.append(json.load(response)["choices"][0]["message"]["content"] or "")
    return answers


def first_words(text: str) -> list[str]:
    return text.split()[:WORDS]


def check_llama_build(base_url: str, gguf: Path, model: str = "smollm2", api_key: str | None = None) -> None:
    """Raise BrokenLlamaBuild when the server's greedy answers do not begin like transformers' on the same GGUF."""
    verdict = compare(reference_answers(gguf), server_answers(base_url, model, api_key), gguf.name)
    if verdict:
        raise BrokenLlamaBuild(verdict)


def compare(expected: list[str], got: list[str], gguf_name: str) -> str:
    """ "" when at least MIN_AGREEING answers begin with the same words, else a message with both sets of answers."""
    agreeing = sum(first_words(e) == first_words(g) for e, g in zip(expected, got, strict=True))
    if agreeing >= MIN_AGREEING:
        return ""
    import llama_cpp

    lines = "\n".join(
        f"  {p!r}\n    transformers: {e!r}\n    llama.cpp:    {g!r}" for p, e, g in zip(PROMPTS, expected, got)
    )
    return (
        f"the llama.cpp build is broken on this CPU: llama-cpp-python {llama_cpp.__version__} "
        f"({Path(llama_cpp.__file__).parent}) answered {len(PROMPTS) - agreeing} of {len(PROMPTS)} greedy prompts "
        f"unlike transformers on the same GGUF ({gguf_name}).\n{lines}\n"
        "A natively tuned build (GGML_NATIVE, e.g. its AMX kernels) computes wrong tokens on some CPUs; "
        "rebuild it portably: rm .venv/.installed-test && make setup-test (see the Makefile's LLAMA_CMAKE_ARGS)."
    )
