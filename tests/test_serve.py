"""`mascot serve` on loopback with the tiny group, driven by the official openai client."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from mascot.app.server import split_group_reply

from .conftest import start_server, stop_server

ED_NAMES = {
    "the_anchor": "The Anchor",
    "the_catalyst": "The Catalyst",
    "the_beacon": "The Beacon",
    "the_action_guide": "Action Guide",
}


@pytest.fixture(scope="module")
def client(group_server):
    return openai.OpenAI(base_url=f"{group_server}/v1", api_key="unused", max_retries=0, timeout=120)


def ask(client, text="I failed my driving test again.", **kw):
    return client.chat.completions.create(model="mascot-group", messages=[{"role": "user", "content": text}], **kw)


def test_models_and_health(client, group_server):
    models = {m.id: m for m in client.models.list().data}
    assert {"mascot-group", "mascot-group-qmsum", "the_anchor", "the_analyst"} <= set(models)
    personas = models["mascot-group"].model_extra["mascot"]["personas"]
    assert [p["display_name"] for p in personas] == list(ED_NAMES.values()) and personas[0]["color"]
    health = json.load(urllib.request.urlopen(f"{group_server}/health"))
    assert health["status"] == "ok" and health["in_flight"] == 0


def test_a_group_reply_names_each_turn(client):
    resp = ask(client, seed=3, extra_body={"mascot": {"emotion": "devastated", "show_directives": True}})
    message = resp.choices[0].message
    turns = message.model_extra["mascot"]["turns"]
    assert 1 <= len(turns) <= 3 and all(t["speaker"] in ED_NAMES and t["text"] for t in turns)
    assert all(t["name"] == ED_NAMES[t["speaker"]] and t["directive"]["speaker"] == t["speaker"] for t in turns)
    # the plain content carries the same turns, so a plain client can show them and send them back
    assert split_group_reply(message.content, ED_NAMES) == [(t["speaker"], t["text"]) for t in turns]
    assert resp.choices[0].finish_reason == "stop" and resp.object == "chat.completion"


def test_streaming_sends_the_same_reply_turn_by_turn(client):
    plain = ask(client, seed=5).choices[0].message
    chunks = list(ask(client, seed=5, stream=True))
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == plain.content
    speakers = [c.choices[0].delta.model_extra["mascot"]["speaker"] for c in chunks if c.choices[0].delta.content]
    # each turn's pieces in order, a finished sentence at a time (tests/test_app_session.py: the
    # random model here may write none, so a turn can come as one piece)
    in_order = [s for i, s in enumerate(speakers) if i == 0 or s != speakers[i - 1]]
    assert in_order == [t["speaker"] for t in plain.model_extra["mascot"]["turns"]]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_conversation_sent_back_continues(client):
    first = ask(client, seed=1).choices[0].message
    history = [
        {"role": "system", "content": "You are a helpful assistant."},  # ignored: the cards are the system prompts
        {"role": "user", "content": "I failed my driving test again."},
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "What should I do now?"},
    ]
    again = client.chat.completions.create(model="mascot-group", messages=history, seed=1)
    assert again.choices[0].message.model_extra["mascot"]["turns"]
    # one companion's turn may come back as a message with its name
    named = history[:2] + [{"role": "assistant", "name": "the_beacon", "content": "You will get there."}] + history[3:]
    assert client.chat.completions.create(model="mascot-group", messages=named).choices[0].message.content


def test_one_persona_alone(client):
    resp = client.chat.completions.create(
        model="the_catalyst", messages=[{"role": "user", "content": "I got the job!"}]
    )
    turns = resp.choices[0].message.model_extra["mascot"]["turns"]
    assert [t["speaker"] for t in turns] == ["the_catalyst"] and resp.choices[0].message.content == turns[0]["text"]


def test_concurrent_conversations_all_get_their_reply(client):
    texts = [f"Message number {i}: my week was hard." for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda t: ask(client, t, seed=2), texts))
    assert all(r.choices[0].message.model_extra["mascot"]["turns"] for r in replies)


def test_a_client_that_leaves_mid_stream_frees_its_slot(client, group_server):
    import time

    stream = ask(client, stream=True)
    next(iter(stream))
    stream.close()
    deadline = time.time() + 60
    while json.load(urllib.request.urlopen(f"{group_server}/health"))["in_flight"] and time.time() < deadline:
        time.sleep(0.2)
    assert json.load(urllib.request.urlopen(f"{group_server}/health"))["in_flight"] == 0
    assert ask(client, seed=4).choices[0].message.content


@pytest.mark.parametrize(
    "body, status, param, message",
    [
        ({"model": "mascot-grup", "messages": [{"role": "user", "content": "hi"}]}, 404, "model", "Did you mean 'mascot-group'"),
        ({"model": "mascot-group", "messages": []}, 400, "messages", "at least 1"),
        ({"model": "mascot-group", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "The Anchor: yes"}]},
         400, "messages", "last message must be the person's"),
        ({"model": "mascot-group", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"},
          {"role": "user", "content": "and?"}]}, 400, "messages[1].content", "group's reply as returned"),
        ({"model": "mascot-group", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "name": "the_analyst",
          "content": "x"}, {"role": "user", "content": "and?"}]}, 400, "messages[1].name", "not in this group"),
        ({"model": "mascot-group", "messages": [{"role": "user", "content": " "}]}, 400, "messages[0].content", "empty"),
        ({"model": "mascot-group", "messages": [{"role": "user", "content": "hi"}], "n": 2}, 400, "n", "less than or equal to 1"),
        ({"model": "mascot-group", "messages": [{"role": "user", "content": "hi"}], "temperature": 9}, 400, "temperature", "2"),
        ({"model": "mascot-group", "messages": [{"role": "tool", "content": "hi"}]}, 400, "messages.0.role", "Input should be"),
        ({"model": "mascot-group", "messages": [{"role": "user", "content": "hi"}], "mascot": {"emotion": "anxius"}},
         400, "mascot.emotion", "Did you mean 'anxious'"),
        ({"model": "mascot-group", "messages": [{"role": "user", "content": "hi"}], "mascot": {"mood": "x"}},
         400, "mascot.mood", "Extra inputs"),
    ],
)  # fmt: skip
def test_bad_requests_get_clear_openai_errors(group_server, body, status, param, message):
    code, error = post(group_server, json.dumps(body).encode())
    assert code == status and error["param"] == param and message.lower() in error["message"].lower(), error
    assert set(error) == {"message", "type", "param", "code"}


def test_malformed_json_and_the_client_error_type(group_server, client):
    code, error = post(group_server, b'{"model": "mascot-group", "messages": [')
    assert code == 400 and error["code"] == "invalid_json"
    with pytest.raises(openai.NotFoundError, match="mascot-grup"):
        client.chat.completions.create(model="mascot-grup", messages=[{"role": "user", "content": "hi"}])


def post(base: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{base}/v1/chat/completions", data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        error = json.load(exc)["error"]
        if exc.code == 429:
            error["_retry_after"] = exc.headers.get("Retry-After")
        return exc.code, error


def test_an_api_key_and_a_bounded_queue(tiny_group):
    """With a key in the environment every /v1 call needs it; past max_pending requests get 429."""
    proc, base, log = start_server(
        ["--repo", str(tiny_group), "--max-pending", "1"], env={"MASCOT_API_KEY": "s3cret-key"}
    )
    try:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0).models.list()
        keyed = openai.OpenAI(base_url=f"{base}/v1", api_key="s3cret-key", max_retries=0, timeout=120)
        assert keyed.models.list().data
        body = json.dumps({"model": "mascot-group", "messages": [{"role": "user", "content": "hi"}]}).encode()
        auth = {"Authorization": "Bearer s3cret-key"}
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: post(base, body, auth), range(3)))
        codes = sorted(code for code, _ in results)
        assert codes[0] == 200 and 429 in codes, codes
        busy = next(err for code, err in results if code == 429)
        assert busy["code"] == "server_busy" and busy["_retry_after"] == "5"
    finally:
        stop_server(proc)
    assert "s3cret-key" not in log.read_text(errors="replace")


def test_binding_beyond_loopback_needs_a_key(tiny_group):
    proc = subprocess.run(
        [sys.executable, "-m", "mascot.cli", "serve", "--repo", str(tiny_group), "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "MASCOT_API_KEY": ""},
    )  # fmt: skip
    assert proc.returncode == 2 and "MASCOT_API_KEY" in proc.stderr and "127.0.0.1" in proc.stderr
