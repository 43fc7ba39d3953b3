"""The llama.cpp test server is checked against transformers before any test uses it (tests/llama_build.py)."""

from __future__ import annotations

from pathlib import Path

from .llama_build import PROMPTS, compare, reference_answers, server_answers


def gguf() -> Path:
    from mascot.llm.base_model import offline_gguf

    folder, name = offline_gguf()
    return Path(folder) / name


def test_the_test_server_answers_like_transformers(llama_server):
    expected, got = reference_answers(gguf()), server_answers(llama_server, "smollm2", None)
    assert compare(expected, got, gguf().name) == ""
    assert all(answer.strip() for answer in expected), "the reference answers are real text"


def test_a_server_with_wrong_tokens_is_named_a_broken_build(llama_server):
    # the real server's answers, each attached to another prompt: what a build computing wrong tokens looks like
    got = server_answers(llama_server, "smollm2", None)
    message = compare(reference_answers(gguf()), got[1:] + got[:1], gguf().name)
    assert message.startswith("the llama.cpp build is broken on this CPU")
    assert f"{len(PROMPTS)} of {len(PROMPTS)} greedy prompts" in message and "make setup-test" in message
