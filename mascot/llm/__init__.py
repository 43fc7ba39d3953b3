"""Generation backends behind one interface.

``transformers``: the model in-process (batched, left padding, LoRA adapters
switched per persona so one base model serves every agent).
``openai``: any OpenAI-compatible server (vLLM, llama.cpp's server, a hosted API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mascot.registry import Registry

Message = dict[str, str]


class BackendError(RuntimeError):
    """A backend could not produce an answer (server down, retries exhausted); names the endpoint."""


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    max_new_tokens: int = 64


@dataclass(frozen=True)
class Generation:
    text: str
    prompt: str  # exactly what was sent: the chat-templated text, or the messages as JSON
    completion_tokens: int
    finish_reason: str  # "stop" | "length"


class Backend(Protocol):
    name: str
    model_name: str

    def generate(
        self, prompts: list[list[Message]], params: SamplingParams, seeds: list[int], adapter: str | None = None
    ) -> list[Generation]: ...

    def count_tokens(self, messages: list[Message]) -> int: ...


BACKENDS: Registry[type] = Registry("generation backend")


def get_backend(name: str) -> type:
    # imported lazily: the in-process backend pulls torch/transformers
    if name not in BACKENDS:
        if name == "transformers":
            import mascot.llm.transformers_backend  # noqa: F401
        elif name == "openai":
            import mascot.llm.openai_backend  # noqa: F401
    return BACKENDS.get(name, where="generation.backend")
