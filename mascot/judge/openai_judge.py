"""The HTTP judge: any OpenAI-compatible server, one request per (candidate, criterion),
concurrent under a bound.

Two kinds of trouble are told apart and counted:
- transport faults (timeouts, 429, 5xx, dropped connections, a body that is not a chat
  completion): retried with exponential backoff and jitter, a Retry-After header winning;
- answers that do not parse (no digit, bad JSON, out of range): asked again.
Either budget spent, the criterion is recorded as failed with the last error; it is
never dropped and never given a default score. A 4xx other than 408/409/429 means the
request itself is wrong (model name, key) and stops the run with the endpoint named.
"""

from __future__ import annotations

import asyncio
import json
import math
import random

from mascot.config import JudgeConfig
from mascot.judge import (
    DIGITS,
    JudgeItem,
    JudgeStats,
    Parsed,
    Score,
    failed,
    judge_messages,
    parse_json_score,
    score_from_digit_probs,
)
from mascot.llm import BackendError
from mascot.llm.openai_backend import api_key
from mascot.prompts import Prompts

RETRY_STATUS = {408, 409, 429}
# enum, not minimum/maximum: llama.cpp's grammar ignores integer bounds
SCORE_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
    "required": ["score"],
    "additionalProperties": False,
}
RESPONSE_FORMATS = {
    "json_schema": {"type": "json_schema", "json_schema": {"name": "score", "schema": SCORE_SCHEMA, "strict": True}},
    "json_object_with_schema": {"type": "json_object", "schema": SCORE_SCHEMA},
    "json_object": {"type": "json_object"},
}
BACKOFF_CAP_S = 30.0


class OpenAIJudge:
    def __init__(self, cfg: JudgeConfig, prompts: Prompts, seed: int = 0):
        self.cfg, self.prompts, self.name = cfg, prompts, cfg.name
        self.endpoint = cfg.endpoint
        self.model_name = f"{cfg.endpoint.model}@{cfg.endpoint.base_url}"
        self.stats = JudgeStats()
        self.jitter = random.Random(seed)
        # auto: start with logprobs; the first answer without them switches to JSON for good
        self.method = "json" if cfg.scoring == "json" else "logprobs"

    def judge(self, items: list[JudgeItem]) -> list[list[Score]]:
        return asyncio.run(self._judge_all(items))

    async def _judge_all(self, items: list[JudgeItem]) -> list[list[Score]]:
        from openai import AsyncOpenAI

        ep = self.endpoint
        # retries are ours (counted, Retry-After honoured), so the client's own are off
        async with AsyncOpenAI(
            base_url=ep.base_url, api_key=api_key(ep), timeout=ep.timeout_s, max_retries=0
        ) as client:
            gate = asyncio.Semaphore(ep.max_concurrency)
            jobs = [self._criterion(client, gate, it, c) for it in items for c in it.rubric.criteria]
            flat = await asyncio.gather(*jobs)
        out, k = [], 0
        for it in items:
            out.append(list(flat[k : k + len(it.rubric.criteria)]))
            k += len(it.rubric.criteria)
        return out

    async def _criterion(self, client, gate, item: JudgeItem, criterion) -> Score:
        attempts, last_error = 0, ""
        for ask in range(self.cfg.max_reasks + 1):
            if ask:
                self.stats.reasks += 1
            method = self.method
            reply, error, tries = await self._request(
                client, gate, judge_messages(self.prompts, item, criterion, method), method
            )
            attempts += tries
            if reply is None:  # transport budget spent
                self.stats.failures += 1
                return failed(criterion.name, method, attempts, json.dumps({"error": error}))
            parsed = self._parse(reply, method)
            if parsed is None:  # auto mode met a server without logprobs: ask this one again as JSON
                self.method = "json"
                continue
            if parsed.score is not None:
                return Score(criterion.name, parsed.score, "ok", method, attempts, parsed.raw)
            last_error = json.dumps({"error": parsed.error, "reply": parsed.raw})
        self.stats.failures += 1
        return failed(criterion.name, self.method, attempts, last_error)

    def _parse(self, choice, method: str) -> Parsed | None:
        if method == "json":
            return parse_json_score(choice.message.content or "")
        content = choice.logprobs.content if choice.logprobs is not None else None
        if not content:
            return (
                None
                if self.cfg.scoring == "auto"
                else Parsed(None, choice.message.content or "", "no logprobs returned")
            )
        probs: dict[str, float] = {}
        for alt in content[0].top_logprobs or []:
            token = alt.token.strip()
            if token in DIGITS:
                probs[token] = probs.get(token, 0.0) + math.exp(alt.logprob)
        return score_from_digit_probs(probs, self.cfg.min_digit_mass)

    async def _request(self, client, gate, messages, method: str):
        """One answer, retrying transport faults. Returns (choice or None, last error, requests made)."""
        import openai

        ep, error = self.endpoint, ""
        kw = (
            {"response_format": RESPONSE_FORMATS[self.cfg.json_format], "max_tokens": 16}
            if method == "json"
            else {"logprobs": True, "top_logprobs": self.cfg.top_logprobs, "max_tokens": 1}
        )
        for attempt in range(ep.max_retries + 1):
            if attempt:
                self.stats.retries += 1
            delay = None
            try:
                async with gate:
                    self.stats.calls += 1
                    resp = await client.chat.completions.create(
                        model=ep.model, messages=messages, temperature=0.0, **kw
                    )
                if not getattr(resp, "choices", None):
                    raise _Malformed("the server answered with no choices")
                # The client builds responses unvalidated, so an empty choice arrives with message None;
                # read as "no logprobs", it would switch an auto judge to JSON for good.
                if getattr(resp.choices[0], "message", None) is None:
                    raise _Malformed("the server answered a choice without a message")
                if resp.usage:
                    self.stats.prompt_tokens += resp.usage.prompt_tokens or 0
                    self.stats.completion_tokens += resp.usage.completion_tokens or 0
                return resp.choices[0], "", attempt + 1
            except openai.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in RETRY_STATUS:
                    raise BackendError(f"{ep.base_url} (model {ep.model!r}) rejected the request: {exc}") from exc
                error, delay = f"HTTP {exc.status_code}: {exc.message}", _retry_after(exc)
            except (openai.APIConnectionError, openai.APIResponseValidationError, _Malformed, ValueError) as exc:
                # APITimeoutError is an APIConnectionError; a truncated body surfaces as a decode error
                error = f"{type(exc).__name__}: {exc}"
            if attempt < ep.max_retries:
                backoff = min(BACKOFF_CAP_S, ep.backoff_s * 2**attempt) * self.jitter.uniform(0.5, 1.5)
                await asyncio.sleep(delay if delay is not None else backoff)
        return None, error, ep.max_retries + 1


class _Malformed(Exception):
    pass


def _retry_after(exc) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return min(BACKOFF_CAP_S, max(0.0, float(value))) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None
