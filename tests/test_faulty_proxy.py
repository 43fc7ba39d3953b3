"""FaultyProxy, the fault-injecting reverse proxy, between the official ``openai`` client and a
real OpenAI-compatible server (llama.cpp's server on loopback with the offline SmolLM2 GGUF).

These tests also pin down which exception (or odd response) the client surfaces for each fault,
which the judge's retry logic keys on:

    429             -> openai.RateLimitError (status 429, Retry-After honoured when 0 < s <= 120)
    500 / 503       -> openai.InternalServerError (status_code 500 / 503)
    slow            -> openai.APITimeoutError (a subclass of APIConnectionError)
    drop            -> openai.APIConnectionError (cause: httpx2.RemoteProtocolError)
    truncated_json  -> json.JSONDecodeError, raw: NOT an openai.APIError, and never retried
    wrong_schema    -> no exception: a ChatCompletion with choices=None (and an extra field),
                       or openai.APIResponseValidationError with _strict_response_validation=True
    empty_choices   -> no exception: a ChatCompletion with choices == []
    hollow_choice   -> no exception: choices == [a Choice whose message, logprobs, finish_reason are None]
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from .conftest import free_port
from .faulty_proxy import FAULTS, FaultyProxy

MESSAGES = [{"role": "user", "content": "Say hi."}]


@pytest.fixture(scope="module")
def upstream(llama_server):
    return llama_server


def client(proxy: FaultyProxy, timeout: float = 30.0, max_retries: int = 0, **kw) -> OpenAI:
    return OpenAI(base_url=proxy.url, api_key="x", max_retries=max_retries, timeout=timeout, **kw)


def chat(c: OpenAI):
    return c.chat.completions.create(model="smollm2", messages=MESSAGES, max_tokens=1, temperature=0.0)


def outcome(call) -> str:
    """What the client saw, named like the fault kind that causes it."""
    try:
        resp = call()
    except openai.RateLimitError:
        return "429"
    except openai.InternalServerError as exc:
        return str(exc.status_code)
    except openai.APITimeoutError:
        return "slow"
    except openai.APIConnectionError:
        return "drop"
    except json.JSONDecodeError:
        return "truncated_json"
    if resp.choices is None:
        return "wrong_schema"
    if resp.choices == []:
        return "empty_choices"
    if resp.choices[0].message is None:
        return "hollow_choice"
    assert resp.choices[0].message.content is not None
    return "clean"


def assert_books_balance(proxy: FaultyProxy):
    assert sum(proxy.counts.values()) == proxy.requests == len(proxy.history)
    assert proxy.errors == [], proxy.errors


def proxy_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("FaultyProxy")]


# -- forwarding ---------------------------------------------------------------------------------


def test_clean_forwarding_gives_normal_completions(upstream):
    with FaultyProxy(upstream, seed=0) as proxy, client(proxy) as c:
        assert proxy.url.startswith("http://127.0.0.1:") and proxy.url.endswith("/v1")
        assert proxy.url != f"{upstream}/v1"
        models = c.models.list()  # GET, forwarded untouched
        assert len(models.data) >= 1
        resp = chat(c)
        assert resp.object == "chat.completion" and resp.id.startswith("chatcmpl")
        assert resp.choices[0].message.role == "assistant" and resp.choices[0].message.content
        assert resp.usage.completion_tokens == 1 and resp.choices[0].finish_reason == "length"
        text = c.completions.create(model="smollm2", prompt="Hello", max_tokens=1)
        assert text.choices[0].text is not None and text.usage.completion_tokens == 1
        # An upstream error status and body come back as they are.
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{proxy.url}/no-such-route", timeout=10)
        assert err.value.code == 404
        err.value.close()
        assert proxy.counts == {**{k: 0 for k in FAULTS}, "clean": 2, "passthrough": 2}
        assert [kind for _, _, kind in proxy.history] == ["passthrough", "clean", "clean", "passthrough"]
        assert_books_balance(proxy)


def test_request_body_reaches_the_upstream_intact(upstream):
    # llama.cpp reuses its KV cache, so even greedy text varies run to run; the prompt's token
    # count and the honoured max_tokens show the body arrived byte for byte.
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour. " * 20}]

    def ask(base_url):
        with OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=30) as c:
            raw = c.chat.completions.with_raw_response.create(
                model="smollm2", messages=prompt, max_tokens=3, temperature=0.0
            )
            resp = raw.parse()
            return raw.headers["content-type"], resp.usage.prompt_tokens, resp.usage.completion_tokens

    with FaultyProxy(upstream) as proxy:
        proxied = ask(proxy.url)
        assert proxied == ask(f"{upstream}/v1")
        assert proxied[1] > 60 and proxied[2] == 3
        assert proxy.counts["clean"] == 1


# -- each fault, as the client sees it ----------------------------------------------------------


EXPECTED_RAISES = {
    "429": openai.RateLimitError,
    "500": openai.InternalServerError,
    "503": openai.InternalServerError,
    "slow": openai.APITimeoutError,
    "drop": openai.APIConnectionError,
    "truncated_json": json.JSONDecodeError,
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_RAISES))
def test_fault_raises_in_the_client(upstream, kind):
    timeout = 0.5 if kind == "slow" else 30
    with (
        FaultyProxy(upstream, fail_first_n=1, first_fault=kind, slow_seconds=1.5) as proxy,
        client(proxy, timeout=timeout) as c,
    ):
        started = time.monotonic()
        with pytest.raises(EXPECTED_RAISES[kind]) as err:
            chat(c)
        elapsed = time.monotonic() - started
        exc = err.value
        if kind in ("429", "500", "503"):
            assert exc.status_code == int(kind)
            assert exc.body["message"].endswith("(injected by FaultyProxy).")
            assert elapsed < 1.0
        if kind == "429":
            assert exc.response.headers["retry-after"] == "0" and exc.type == "rate_limit_error"
        if kind == "slow":
            assert 0.45 < elapsed < 1.4, elapsed  # the client's timeout fired, not the proxy's wait
        if kind == "drop":
            assert type(exc) is openai.APIConnectionError  # not a timeout
            assert type(exc.__cause__).__name__ == "RemoteProtocolError"
        if kind == "truncated_json":
            assert not isinstance(exc, openai.APIError)  # escapes `except openai.APIError`
        # The fault applied to the first request only: the next one goes through.
        with client(proxy, timeout=30) as fresh:
            assert outcome(lambda: chat(fresh)) == "clean"
        assert proxy.counts[kind] == 1 and proxy.counts["clean"] == 1
        assert_books_balance(proxy)


def test_wrong_schema_is_returned_not_raised(upstream):
    with FaultyProxy(upstream, fail_first_n=2, first_fault="wrong_schema") as proxy:
        with client(proxy) as c:
            resp = chat(c)
        assert isinstance(resp, openai.types.chat.ChatCompletion)  # unvalidated, built as-is
        assert resp.choices is None and resp.id is None and resp.model_extra == {"result": "ok"}
        with client(proxy, _strict_response_validation=True) as strict:
            with pytest.raises(openai.APIResponseValidationError):
                chat(strict)
        assert proxy.counts["wrong_schema"] == 2
        assert_books_balance(proxy)


def test_empty_choices_is_returned_not_raised(upstream):
    with FaultyProxy(upstream, fail_first_n=1, first_fault="empty_choices") as proxy, client(proxy) as c:
        resp = chat(c)
        assert resp.choices == [] and resp.object == "chat.completion" and resp.usage.completion_tokens == 1
        assert proxy.counts["empty_choices"] == 1


def test_a_hollow_choice_is_returned_not_raised(upstream):
    with FaultyProxy(upstream, fail_first_n=1, first_fault="hollow_choice") as proxy, client(proxy) as c:
        resp = chat(c)
        assert outcome(lambda: resp) == "hollow_choice"
        assert resp.choices[0].logprobs is None and resp.choices[0].finish_reason is None
        assert resp.object == "chat.completion" and proxy.counts["hollow_choice"] == 1


def test_a_slow_answer_the_client_waits_for_is_the_real_answer(upstream):
    with FaultyProxy(upstream, fail_first_n=1, first_fault="slow", slow_seconds=0.5) as proxy, client(proxy) as c:
        assert outcome(lambda: chat(c)) == "clean" and proxy.counts["slow"] == 1


def test_legacy_completions_path_gets_faults_too(upstream):
    with FaultyProxy(upstream, fail_first_n=1, first_fault="503") as proxy, client(proxy) as c:
        with pytest.raises(openai.InternalServerError):
            c.completions.create(model="smollm2", prompt="Hello", max_tokens=1)
        assert c.completions.create(model="smollm2", prompt="Hello", max_tokens=1).choices
        assert proxy.counts["503"] == 1 and proxy.counts["clean"] == 1


def test_async_client_sees_the_same_exceptions(upstream):
    """The project's backend uses AsyncOpenAI (the same classes come out of its transport)."""

    async def one(kind: str) -> str:
        with FaultyProxy(upstream, fail_first_n=1, first_fault=kind, slow_seconds=1.5) as proxy:
            async with AsyncOpenAI(
                base_url=proxy.url, api_key="x", max_retries=0, timeout=0.5 if kind == "slow" else 30
            ) as c:
                try:
                    resp = await c.chat.completions.create(model="smollm2", messages=MESSAGES, max_tokens=1)
                except Exception as exc:  # noqa: BLE001
                    return type(exc).__name__
                return "None" if resp.choices is None else f"choices={len(resp.choices)}"

    seen = {kind: asyncio.run(one(kind)) for kind in FAULTS}
    assert seen == {
        "429": "RateLimitError",
        "500": "InternalServerError",
        "503": "InternalServerError",
        "slow": "APITimeoutError",
        "truncated_json": "JSONDecodeError",
        "wrong_schema": "None",
        "empty_choices": "choices=0",
        "drop": "APIConnectionError",
        "hollow_choice": "choices=1",
    }


# -- retries in the client, deterministic with fail_first_n -------------------------------------


@pytest.mark.parametrize("kind", ["429", "drop"])
def test_client_retries_through_the_first_n_faults(upstream, kind):
    # Retry-After: 0 is ignored by the client (it only honours 0 < s <= 120 and falls back to
    # its 0.5 s, 1 s, ... backoff), so 10 ms here keeps the 429 case fast.
    with (
        FaultyProxy(upstream, fail_first_n=2, first_fault=kind, retry_after=0.01) as proxy,
        client(proxy, max_retries=2) as c,
    ):
        assert outcome(lambda: chat(c)) == "clean"
        assert [k for _, _, k in proxy.history] == [kind, kind, "clean"]


def test_client_gives_up_after_its_retries(upstream):
    with (
        FaultyProxy(upstream, fail_first_n=3, first_fault="429", retry_after=0.01) as proxy,
        client(proxy, max_retries=2) as c,
    ):
        with pytest.raises(openai.RateLimitError):
            chat(c)
        assert proxy.requests == 3 and proxy.counts["429"] == 3


def test_client_does_not_retry_truncated_json_or_a_long_retry_after(upstream):
    with (
        FaultyProxy(upstream, fail_first_n=1, first_fault="truncated_json") as proxy,
        client(proxy, max_retries=3) as c,
    ):
        with pytest.raises(json.JSONDecodeError):
            chat(c)
        assert proxy.requests == 1
    with (
        FaultyProxy(upstream, fail_first_n=1, first_fault="429", retry_after=121) as proxy,
        client(proxy, max_retries=3) as c,
    ):
        with pytest.raises(openai.RateLimitError):
            chat(c)
        assert proxy.requests == 1


# -- rates, counts, reproducibility -------------------------------------------------------------


RATES = {
    "429": 0.15,
    "500": 0.1,
    "503": 0.1,
    "truncated_json": 0.1,
    "wrong_schema": 0.1,
    "empty_choices": 0.1,
    "drop": 0.1,
}  # clean: 0.25; "slow" is tested on its own above
N = 60


def run_batch(upstream, concurrency: int, seed: int = 0):
    with FaultyProxy(upstream, rates=RATES, seed=seed) as proxy, client(proxy) as c:
        if concurrency == 1:
            seen = [outcome(lambda: chat(c)) for _ in range(N)]
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                seen = list(pool.map(lambda _: outcome(lambda: chat(c)), range(N)))
        assert_books_balance(proxy)
        return Counter(seen), proxy.counts, proxy.history


def test_rates_are_honoured_and_every_fault_is_what_the_client_saw(upstream):
    seen, counts, history = run_batch(upstream, concurrency=4)
    assert sum(counts.values()) == N and counts["passthrough"] == 0 and counts["slow"] == 0
    # The client's outcomes tally exactly with what the proxy says it injected.
    assert seen == Counter({k: v for k, v in counts.items() if v}), (seen, counts)
    for kind, rate in {**RATES, "clean": 1 - sum(RATES.values())}.items():
        expected, sd = N * rate, math.sqrt(N * rate * (1 - rate))
        assert abs(counts[kind] - expected) <= max(3.5 * sd, 2), (kind, counts[kind], expected)


def test_a_seed_reproduces_the_faults(upstream):
    _, concurrent_counts, _ = run_batch(upstream, concurrency=4, seed=7)
    _, counts_a, history_a = run_batch(upstream, concurrency=1, seed=7)
    _, counts_b, history_b = run_batch(upstream, concurrency=1, seed=7)
    assert history_a == history_b  # same order in, same faults out
    assert counts_a == counts_b == concurrent_counts  # arrival order changes who, not how many
    _, other, _ = run_batch(upstream, concurrency=4, seed=8)
    assert other != counts_a


def test_fail_first_n_comes_before_the_rates(upstream):
    with FaultyProxy(upstream, rates={"429": 1.0}, fail_first_n=3, first_fault="503") as proxy, client(proxy) as c:
        assert [outcome(lambda: chat(c)) for _ in range(5)] == ["503"] * 3 + ["429"] * 2


# -- lifecycle, configuration, a dead upstream --------------------------------------------------


def test_shuts_down_promptly_with_connections_open(upstream):
    before = set(proxy_threads())
    results = []
    with FaultyProxy(upstream, fail_first_n=1, first_fault="slow", slow_seconds=60) as proxy:
        port = proxy.port
        slow_client = client(proxy, timeout=30)
        stuck = threading.Thread(target=lambda: results.append(outcome(lambda: chat(slow_client))))
        stuck.start()
        deadline = time.monotonic() + 10  # the slow request must take the first fault, not the idle one
        while proxy.counts["slow"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        idle = client(proxy)
        assert outcome(lambda: chat(idle)) == "clean"  # leaves an idle keep-alive connection
        time.sleep(0.2)
        assert len(proxy_threads()) >= 3  # serve loop + two connection handlers
        started = time.monotonic()
    assert time.monotonic() - started < 3, "closing waited on a slow request or an idle connection"
    stuck.join(10)
    assert results == ["drop"]  # the slow request's connection was cut when the proxy closed
    assert set(proxy_threads()) <= before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    slow_client.close()
    idle.close()


def test_rejects_bad_configuration():
    with pytest.raises(ValueError, match="unknown fault"):
        FaultyProxy("http://127.0.0.1:1", rates={"404": 0.1})
    with pytest.raises(ValueError, match="sum to at most 1"):
        FaultyProxy("http://127.0.0.1:1", rates={"429": 0.6, "500": 0.6})
    with pytest.raises(ValueError, match="first_fault"):
        FaultyProxy("http://127.0.0.1:1", fail_first_n=1, first_fault="teapot")
    with pytest.raises(ValueError, match="http://"):
        FaultyProxy("https://api.openai.com")


def test_a_dead_upstream_is_a_502():
    with FaultyProxy(f"http://127.0.0.1:{free_port()}", upstream_timeout=5) as proxy, client(proxy) as c:
        with pytest.raises(openai.InternalServerError) as err:
            chat(c)
        assert err.value.status_code == 502
        assert len(proxy.upstream_errors) == 1 and isinstance(proxy.upstream_errors[0], ConnectionRefusedError)
        assert proxy.counts["clean"] == 1
