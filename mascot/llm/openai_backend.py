"""Any OpenAI-compatible chat endpoint through the official ``openai`` client.

Concurrency is bounded by a semaphore; retries with exponential backoff and
jitter on timeouts, 429, 5xx and dropped connections are the client's own
(``max_retries``), which also honours ``Retry-After``. The API key is read from
the environment variable named in params and is never stored anywhere.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping

from mascot.config import OpenAIEndpoint
from mascot.llm import BackendError, Generation, Message, SamplingParams


def api_key(endpoint: OpenAIEndpoint) -> str:
    # Local servers (vLLM, llama.cpp) accept any key; the client insists on one.
    return os.environ.get(endpoint.api_key_env) or "EMPTY"


def _extra_body(params: SamplingParams) -> dict:
    """vLLM's names for the sampling settings the OpenAI API lacks, sent only when set, as a hosted
    API refuses unknown fields (llama.cpp's server ignores them)."""
    extra = {"repetition_penalty": params.repetition_penalty} if params.repetition_penalty != 1.0 else {}
    extra |= {"min_tokens": params.min_new_tokens} if params.min_new_tokens else {}
    return {"extra_body": extra} if extra else {}


class OpenAIBackend:
    name = "openai"

    def __init__(self, endpoint: OpenAIEndpoint, adapter_models: Mapping[str, str] | None = None):
        """``adapter_models``: the served model name of each adapter a caller may ask for (vLLM
        serves each LoRA module under its own name); requests without an adapter go to ``endpoint.model``."""
        self.endpoint = endpoint
        self.adapter_models = dict(adapter_models or {})
        self.model_name = f"{endpoint.model}@{endpoint.base_url}"

    def served_model(self, adapter: str | None) -> str:
        if adapter is None:
            return self.endpoint.model
        if adapter not in self.adapter_models:
            raise ValueError(
                f"{self.endpoint.base_url}: no served model for adapter '{adapter}' "
                f"(serving.models names {sorted(self.adapter_models) or 'none'})"
            )
        return self.adapter_models[adapter]

    def count_tokens(self, messages: list[Message]) -> int:
        # No tokenizer on the client side: a conservative estimate (~3.5 chars per token).
        return sum(len(m["content"]) for m in messages) * 2 // 7 + 4 * len(messages)

    def generate(
        self, prompts: list[list[Message]], params: SamplingParams, seeds: list[int], adapter: str | None = None
    ) -> list[Generation]:
        model = self.served_model(adapter)
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        return asyncio.run(self._generate_all(prompts, params, seeds, model))

    async def _generate_all(self, prompts, params, seeds, model: str) -> list[Generation]:
        from openai import APIError, AsyncOpenAI

        ep = self.endpoint
        async with AsyncOpenAI(
            base_url=ep.base_url, api_key=api_key(ep), timeout=ep.timeout_s, max_retries=ep.max_retries
        ) as client:
            gate = asyncio.Semaphore(ep.max_concurrency)

            async def one(messages: list[Message], seed: int) -> Generation:
                async with gate:
                    resp = await client.chat.completions.create(
                        model=model,
                        messages=messages,
                        temperature=params.temperature,
                        top_p=params.top_p,
                        max_tokens=params.max_new_tokens,
                        seed=seed,
                        **_extra_body(params),
                    )  # fmt: skip
                # the client builds responses unvalidated: no choices, or a choice without a message
                if not resp.choices or resp.choices[0].message is None:
                    raise BackendError(f"{ep.base_url} (model {model!r}): the server answered without a message")
                choice = resp.choices[0]
                tokens = resp.usage.completion_tokens if resp.usage else 0
                finish = "length" if choice.finish_reason == "length" else "stop"
                return Generation((choice.message.content or "").strip(), json.dumps(messages), tokens, finish)

            try:
                return list(await asyncio.gather(*(one(m, s) for m, s in zip(prompts, seeds))))
            except APIError as exc:
                raise BackendError(
                    f"{ep.base_url} (model {model!r}) failed after {ep.max_retries} retries: {exc}"
                ) from exc
            except json.JSONDecodeError as exc:  # a body cut short: not an APIError, so never retried by the client
                raise BackendError(f"{ep.base_url} (model {model!r}) answered a body that is not JSON: {exc}") from exc
