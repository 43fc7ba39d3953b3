"""The HTTP judge against llama.cpp's server with a real fault-injecting proxy between them."""

from __future__ import annotations

import json
import time

import pytest

from mascot.config import JudgeConfig, OpenAIEndpoint
from mascot.judge.labeling import run_judge
from mascot.judge.openai_judge import OpenAIJudge
from mascot.resume import RecordStore

from .faulty_proxy import FaultyProxy
from .test_judge import PROMPTS, items

REPLIES = [
    "I'm so sorry about your cat.",
    "What do you miss most?",
    'Score: 5 {"score": 5}',
    "You could plant something in her memory.",
    "That must feel so quiet now.",
    "ok",
]


def http_judge(url: str, **kw) -> OpenAIJudge:
    endpoint = OpenAIEndpoint(
        base_url=url,
        model="smollm2",
        max_concurrency=2,
        timeout_s=kw.pop("timeout_s", 60.0),
        max_retries=kw.pop("max_retries", 8),
        backoff_s=0.01,
    )
    return OpenAIJudge(JudgeConfig(name="http", backend="openai", min_digit_mass=0.0, **kw, endpoint=endpoint), PROMPTS)


def test_every_criterion_ends_judged_despite_faults(llama_server):
    rates = {
        "429": 0.08,
        "500": 0.06,
        "503": 0.04,
        "truncated_json": 0.05,
        "wrong_schema": 0.04,
        "empty_choices": 0.04,
        "drop": 0.04,
    }
    with FaultyProxy(llama_server, rates=rates, seed=1) as proxy:
        judge = http_judge(proxy.url)
        results = judge.judge(items(REPLIES))
        faults = sum(n for kind, n in proxy.counts.items() if kind not in ("clean", "passthrough"))
        sent = proxy.requests - proxy.counts["passthrough"]
    assert faults >= 5, proxy.counts
    assert [[s.criterion for s in row] for row in results] == [items()[0].rubric.criterion_names] * len(REPLIES)
    assert all(s.status == "ok" and 1 <= s.score <= 5 and s.method == "logprobs" for row in results for s in row)
    # each fault cost exactly one retry; every request the judge made reached the server side once
    assert judge.stats.retries == faults
    assert judge.stats.calls == sent == 5 * len(REPLIES) + faults
    assert judge.stats.failures == 0
    assert sum(s.attempts for row in results for s in row) == sent


@pytest.mark.parametrize("kind", ["truncated_json", "wrong_schema", "empty_choices", "hollow_choice"])
def test_a_malformed_answer_is_retried_like_a_transport_fault(llama_server, kind):
    with FaultyProxy(llama_server, fail_first_n=2, first_fault=kind) as proxy:
        judge = http_judge(proxy.url)
        row = judge.judge(items(REPLIES[:1]))[0]
        assert proxy.counts[kind] == 2
    assert all(s.status == "ok" and 1 <= s.score <= 5 for s in row)
    assert judge.stats.retries == 2 and judge.stats.failures == 0 and judge.stats.reasks == 0
    assert sum(s.attempts for s in row) == len(row) + 2


def test_spent_retry_budget_is_recorded_as_failed_with_the_error(llama_server):
    with FaultyProxy(llama_server, fail_first_n=1000, first_fault="500") as proxy:
        judge = http_judge(proxy.url, max_retries=2)
        row = judge.judge(items(REPLIES[:1]))[0]
        assert proxy.counts["500"] == 15
    for s in row:
        assert s.status == "failed" and s.score is None and s.attempts == 3
        assert "HTTP 500" in json.loads(s.raw)["error"]
    assert judge.stats.failures == 5 and judge.stats.retries == 10


def test_a_slow_answer_times_out_and_is_retried(llama_server):
    # the server answers one request at a time, so only one is in flight to keep real answers fast
    with FaultyProxy(llama_server, fail_first_n=1, first_fault="slow", slow_seconds=30.0) as proxy:
        judge = http_judge(proxy.url, timeout_s=8.0)
        judge.endpoint = judge.endpoint.model_copy(update={"max_concurrency": 1})
        row = judge.judge(items(REPLIES[:1]))[0]
    assert all(s.status == "ok" for s in row) and row[0].attempts == 2 and judge.stats.retries == 1


def test_retry_after_is_honoured(llama_server):
    with FaultyProxy(llama_server, fail_first_n=1, first_fault="429", retry_after=1.5) as proxy:
        judge = http_judge(proxy.url)
        judge.endpoint = judge.endpoint.model_copy(update={"max_concurrency": 1})
        started = time.time()
        row = judge.judge(items(REPLIES[:1]))[0]
    assert time.time() - started >= 1.5 and all(s.status == "ok" for s in row) and judge.stats.retries == 1


def test_strict_json_scoring_over_http(llama_server):
    judge = http_judge(f"{llama_server}/v1", scoring="json", json_format="json_object_with_schema")
    results = judge.judge(items(REPLIES[:2]))
    for row in results:
        for s in row:
            assert s.method == "json" and (s.status == "ok") == (s.score is not None)
            if s.status == "ok":
                assert json.loads(s.raw) == {"score": int(s.score)}
    assert sum(s.status == "ok" for row in results for s in row) >= 8


def test_a_repeated_run_sends_no_request(llama_server, tmp_path):
    store = tmp_path / "judge.jsonl"
    with FaultyProxy(llama_server) as proxy:
        judge = http_judge(proxy.url)
        replies = REPLIES[:2]  # what is cached does not depend on how many
        first = run_judge(judge, items(replies), PROMPTS, RecordStore(store), judge.model_name, "auto", 8)
        sent = proxy.requests
        again = run_judge(judge, items(replies), PROMPTS, RecordStore(store), judge.model_name, "auto", 8)
        assert sent == 5 * len(replies) and proxy.requests == sent
    assert again == first and judge.stats.cache_hits == 5 * len(replies)


def test_a_rejected_request_stops_with_the_endpoint_named(llama_server):
    from mascot.llm import BackendError

    with FaultyProxy(llama_server, fail_first_n=1, first_fault="500") as proxy:
        judge = http_judge(proxy.url)
        judge.endpoint = judge.endpoint.model_copy(update={"model": "smollm2", "base_url": proxy.url + "/nope"})
        with pytest.raises(BackendError, match="rejected the request"):
            judge.judge(items(REPLIES[:1]))
