"""`mascot serve`: the trained group behind OpenAI's chat completions API, plus a web page.

Any OpenAI client or chat front end can talk to it. Model ids: ``mascot-group`` (the first
dataset's group), ``mascot-group-<dataset>`` and each persona alone under its name
(``GET /v1/models`` lists them with display names and colours).

A group reply is several agents' turns. ``message.content`` carries them as one text, one
``Display Name: text`` paragraph per turn, so a plain client shows who said what and can send the
conversation back as it got it; ``message.mascot.turns`` carries them structured (speaker, name,
text, the director's directive). An assistant message sent back may instead carry a persona's
``name`` and that persona's text alone. Streaming (SSE) sends the same content piece by piece, each
chunk's ``delta.mascot`` naming its speaker.

Request extensions, in ``mascot`` (``extra_body={"mascot": {...}}`` with the openai client):
``emotion`` (an EmpatheticDialogues label), ``situation`` (default: the first user message),
``query`` (a meeting's question), ``show_directives``. ``temperature``, ``seed`` and ``max_tokens``
(per agent turn, capped by params) work as in OpenAI's API; system messages are ignored because
the personas' cards are the system prompts.

The model answers one reply at a time (adapters are switched per turn on one set of weights), so
requests queue; at most ``max_pending`` are in flight and the next gets 429 with Retry-After.
Bound to loopback it needs no key; bound elsewhere it refuses to start without one, read from the
environment variable named by ``api_key_env``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from importlib.resources import files as package_files
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mascot.app.session import Session, TrainedGroup
from mascot.chat.engine import DirectiveEvent, TokenEvent, TurnEvent
from mascot.registry import UnknownNameError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class ServeSettings:
    host: str = field(
        default="127.0.0.1", metadata={"help": "Address to bind; anything but loopback needs an API key."}
    )
    port: int = field(default=8000, metadata={"help": "TCP port."})
    max_pending: int = field(default=8, metadata={"help": "Requests in flight (running or queued); more get 429."})
    api_key_env: str = field(
        default="MASCOT_API_KEY", metadata={"help": "Environment variable holding the API key clients must send."}
    )
    retry_after_s: int = field(default=5, metadata={"help": "Retry-After sent with 429 when the queue is full."})


class ApiError(Exception):
    """An error answered in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None, headers=None):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.headers = status, message, param, code, headers or {}

    @property
    def type(self) -> str:
        return {401: "authentication_error", 404: "invalid_request_error", 429: "rate_limit_error"}.get(
            self.status, "invalid_request_error" if self.status < 500 else "server_error"
        )

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


# ---------------------------------------------------------------- request shapes


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class MascotOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    emotion: str | None = Field(None, description="The person's emotion, one of EmpatheticDialogues' 32 labels.")
    situation: str | None = Field(None, description="What the person is going through; default: their first message.")
    query: str | None = Field(None, description="A meeting's question on the table (meeting groups).")
    show_directives: bool = Field(False, description="Include the director's directives in the reply.")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send fields we do not use (user, stream_options...)
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    seed: int | None = None
    n: int = Field(1, ge=1, le=1, description="One group reply per request.")
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    mascot: MascotOptions = MascotOptions()


# ---------------------------------------------------------------- conversation from messages


def split_group_reply(text: str, names: dict[str, str]) -> list[tuple[str, str]] | None:
    """``Display Name: text`` paragraphs → [(persona, text)]; None when the text does not start with a name."""
    by_display = {display.lower(): persona for persona, display in names.items()}
    pattern = re.compile(r"^(" + "|".join(re.escape(d) for d in names.values()) + r"):[ \t]*", re.I | re.M)
    matches = list(pattern.finditer(text))
    if not matches or text[: matches[0].start()].strip():
        return None
    ends = [m.start() for m in matches[1:]] + [len(text)]
    return [(by_display[m.group(1).lower()], text[m.end() : end].strip()) for m, end in zip(matches, ends)]


def session_for(group: TrainedGroup, req: ChatRequest) -> tuple[Session, str]:
    """A session holding the request's conversation up to its last message, and that message."""
    try:
        session = group.session(
            req.model, emotion=req.mascot.emotion, situation=req.mascot.situation, query=req.mascot.query,
            seed=req.seed, temperature=req.temperature, max_new_tokens=req.max_completion_tokens or req.max_tokens,
        )  # fmt: skip
    except UnknownNameError as exc:
        raise ApiError(404, str(exc), "model", "model_not_found") from None
    except KeyError as exc:  # an unknown emotion label, with the closest one
        raise ApiError(400, str(exc), "mascot.emotion", "invalid_value") from None
    turns = [(i, m) for i, m in enumerate(req.messages) if m.role in ("user", "assistant")]
    if not turns or turns[-1][1].role != "user":
        raise ApiError(400, "the last message must be the person's (role 'user')", "messages", "invalid_value")
    if turns[0][1].role != "user":
        raise ApiError(400, f"messages[{turns[0][0]}]: the conversation must start with the person", "messages")
    names = {p.name: p.display_name for p in session.personas_shown()}
    for i, m in turns[:-1]:
        if m.role == "user":
            _nonempty(m, i)
            session.add_user_turn(m.text())
            continue
        for persona, text in _assistant_turns(session, names, m, i):
            session.add_agent_turn(persona, text)
    last_i, last = turns[-1]
    _nonempty(last, last_i)
    return session, last.text()


def _nonempty(m: ChatMessage, i: int) -> None:
    if not m.text().strip():
        raise ApiError(400, f"messages[{i}]: empty content", f"messages[{i}].content", "invalid_value")


def _assistant_turns(session: Session, names: dict[str, str], m: ChatMessage, i: int) -> list[tuple[str, str]]:
    if session.single:
        return [(session.personas[0], m.text())]
    if m.name:
        match = {k.lower(): p for p, d in names.items() for k in (p, d)}.get(m.name.lower())
        if match is None:
            raise ApiError(
                400, f"messages[{i}].name: '{m.name}' is not in this group ({', '.join(names)})", f"messages[{i}].name"
            )
        return [(match, m.text())]
    turns = split_group_reply(m.text(), names)
    if turns is None:
        raise ApiError(
            400,
            f"messages[{i}]: an assistant message is the group's reply as returned ('The Anchor: ...' paragraphs) "
            "or one companion's turn with its persona in 'name'",
            f"messages[{i}].content",
        )
    return turns


# ---------------------------------------------------------------- running replies


class Replier:
    """Runs replies one at a time in worker threads and hands their events to the event loop."""

    def __init__(self, max_pending: int):
        self.max_pending, self.in_flight = max_pending, 0
        self.model_lock = threading.Lock()  # one reply at a time: adapters are switched per turn

    def admit(self, retry_after_s: int) -> None:
        if self.in_flight >= self.max_pending:
            raise ApiError(
                429, f"the group is answering {self.in_flight} conversations; retry shortly", code="server_busy",
                headers={"Retry-After": str(retry_after_s)},
            )  # fmt: skip
        self.in_flight += 1

    async def events(self, session: Session, text: str):
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        done = object()

        def work() -> None:
            try:
                with self.model_lock:
                    if stop.is_set():  # the client left while queued
                        return
                    for event in session.send(text):
                        loop.call_soon_threadsafe(queue.put_nowait, event)
                        # a client that left stops its reply at the next turn boundary, where no
                        # generation is running that the next reply could collide with
                        if stop.is_set() and isinstance(event, (DirectiveEvent, TurnEvent)):
                            break
            except Exception as exc:  # noqa: BLE001 - handed to the request
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        threading.Thread(target=work, daemon=True).start()
        try:
            while (item := await queue.get()) is not done:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            stop.set()

    def release(self) -> None:
        self.in_flight -= 1


# ---------------------------------------------------------------- the app


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def turn_json(session: Session, event: TurnEvent, show_directives: bool) -> dict:
    card = session.group.cards.get(event.persona)
    turn: dict[str, Any] = {"speaker": event.persona, "name": card.display_name, "text": event.text}
    if show_directives and not session.single:
        d = event.directive
        turn["directive"] = {"speaker": d.speaker, "instruction": d.instruction, "valid": d.valid}
    return turn


def render_content(session: Session, turns: list[dict]) -> str:
    if session.single:
        return turns[0]["text"] if turns else ""
    return "\n\n".join(f"{t['name']}: {t['text']}" for t in turns)


def create_app(group: TrainedGroup, settings: ServeSettings = ServeSettings(), api_key: str | None = None):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

    app = FastAPI(title="mascot", docs_url=None, redoc_url=None)
    replier = Replier(settings.max_pending)
    created = int(time.time())

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def failure(_: Request, exc: Exception):
        return await api_error(
            _, ApiError(500, f"the reply failed: {type(exc).__name__}: {exc}", code="internal_error")
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"] if x != "body")
        if err["type"] == "json_invalid":
            return await api_error(
                _, ApiError(400, f"the request body is not valid JSON: {err['msg']}", None, "invalid_json")
            )
        return await api_error(_, ApiError(400, f"{loc or 'body'}: {err['msg']}", loc or None, "invalid_value"))

    @app.middleware("http")
    async def authenticate(request: Request, call_next):
        if api_key and request.url.path.startswith("/v1/"):
            if request.headers.get("authorization", "") != f"Bearer {api_key}":
                return JSONResponse(
                    ApiError(
                        401, "a valid API key is required (Authorization: Bearer ...)", code="invalid_api_key"
                    ).body(),
                    401,
                )
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    async def page():
        return (package_files("mascot.app") / "static" / "index.html").read_text(encoding="utf-8")

    @app.get("/health")
    async def health():
        return {
            "status": "ok",
            "revision": group.files.rev,
            "in_flight": replier.in_flight,
            "max_pending": settings.max_pending,
        }

    @app.get("/v1/models")
    async def models():
        data = []
        for model_id, (dataset, personas) in group.models().items():
            cards = [group.cards.get(p) for p in personas]
            data.append({
                "id": model_id, "object": "model", "created": created, "owned_by": "mascot",
                "mascot": {"dataset": dataset, "personas": [
                    {"name": c.name, "display_name": c.display_name, "role": c.role, "color": c.color} for c in cards
                ]},
            })  # fmt: skip
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest):
        session, text = session_for(group, req)
        replier.admit(settings.retry_after_s)
        cid, show = completion_id(), req.mascot.show_directives
        if req.stream:
            return StreamingResponse(stream(session, text, req.model, cid, show), media_type="text/event-stream")
        turns, directives = [], []
        try:
            async for event in replier.events(session, text):
                if isinstance(event, TurnEvent):
                    turns.append(turn_json(session, event, show))
                elif isinstance(event, DirectiveEvent) and show:
                    directives.append(_directive_json(event))
        finally:
            replier.release()
        message: dict[str, Any] = {
            "role": "assistant",
            "content": render_content(session, turns),
            "mascot": {"turns": turns},
        }
        if show:
            message["mascot"]["directives"] = directives
        return {
            "id": cid, "object": "chat.completion", "created": int(time.time()), "model": req.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }  # fmt: skip

    async def stream(session: Session, text: str, model: str, cid: str, show: bool):
        def chunk(delta: dict, finish: str | None = None) -> str:
            body = {
                "id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }  # fmt: skip
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        turn = 0
        try:
            yield chunk({"role": "assistant", "content": ""})
            async for event in replier.events(session, text):
                if isinstance(event, TokenEvent):
                    card = session.group.cards.get(event.persona)
                    prefix = (
                        "" if session.single or not event.start else ("\n\n" if turn else "") + f"{card.display_name}: "
                    )
                    ext = {"speaker": event.persona, "name": card.display_name, "turn": turn}
                    yield chunk({"content": prefix + event.text, "mascot": ext})
                elif isinstance(event, TurnEvent):
                    turn += 1
                elif isinstance(event, DirectiveEvent) and show:
                    yield chunk({"content": "", "mascot": {"directive": _directive_json(event)}})
            yield chunk({}, "stop")
            yield "data: [DONE]\n\n"
        except Exception as exc:  # noqa: BLE001 - the status line is already sent; say it in the stream
            yield f"data: {json.dumps(ApiError(500, f'the reply failed: {exc}').body())}\n\n"
        finally:
            replier.release()

    return app


def _directive_json(event: DirectiveEvent) -> dict:
    d = event.directive
    return {
        "speaker": d.speaker,
        "instruction": d.instruction,
        "valid": d.valid,
        "problem": d.problem,
        "raw": event.raw,
    }


def check_binding(settings: ServeSettings, api_key: str | None) -> None:
    if settings.host not in LOOPBACK and not api_key:
        raise ValueError(
            f"--host {settings.host} exposes the group beyond this machine: set an API key in the environment "
            f"variable {settings.api_key_env} (clients send it as 'Authorization: Bearer ...'), or bind to 127.0.0.1"
        )


def serve(group: TrainedGroup, settings: ServeSettings) -> None:
    import os

    import uvicorn

    api_key = os.environ.get(settings.api_key_env) or None
    check_binding(settings, api_key)
    app = create_app(group, settings, api_key)
    print(
        f"mascot serve: http://{settings.host}:{settings.port}/ (web page), /v1 (OpenAI API); models: {', '.join(group.models())}"
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
