"""Generation backends behind one interface.

``transformers``: the model in-process (batched, left padding, LoRA adapters
switched per persona so one base model serves every agent).
``openai``: any OpenAI-compatible server (vLLM, llama.cpp's server, a hosted API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mascot.registry import Registry, import_ref

Message = dict[str, str]


class BackendError(RuntimeError):
    """A backend could not produce an answer (server down, retries exhausted); names the endpoint."""


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    max_new_tokens: int = 64
    repetition_penalty: float = 1.0  # 1 = off; above 1 makes repeating a token already in the text less likely
    min_new_tokens: int = 0  # the end of the reply is not sampled before this many tokens (0 = off)


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


# name → where its class is, imported only when that backend is asked for: the in-process backend
# pulls torch/transformers, and each implementation imports this module back
BACKENDS: Registry[str] = Registry("generation backend")
BACKENDS.add("transformers", "mascot.llm.transformers_backend:TransformersBackend")
BACKENDS.add("openai", "mascot.llm.openai_backend:OpenAIBackend")


def get_backend(name: str) -> type:
    return import_ref(BACKENDS.get(name, where="generation.backend"))
