"""A real HTTP/1.1 reverse proxy on loopback that injects the faults real OpenAI-compatible
servers and the networks in front of them produce, for testing clients against a live server.

    with FaultyProxy(upstream="http://127.0.0.1:8000", rates={"429": 0.2, "drop": 0.1}, seed=0) as proxy:
        client = OpenAI(base_url=proxy.url, api_key="x")   # proxy.url == "http://127.0.0.1:<port>/v1"
        ...
        proxy.counts    # {"429": 3, "drop": 1, ..., "clean": 11, "passthrough": 0}
        proxy.requests  # 15 == sum(proxy.counts.values())

Every request is forwarded (method, path, query, headers, body; status, headers, body back).
Only POSTs to the completion paths (``fault_paths``) are eligible for faults; the fault of each
is drawn, under a lock, from ``random.Random(seed)`` in arrival order, so a run with the same
request order gives the same faults. Standard library only; every socket operation has a
timeout; leaving the ``with`` block stops the server, cuts open connections and joins every
thread it started.
"""

from __future__ import annotations

import json
import random
import socket
import socketserver
import threading
import time
import urllib.parse
from http.client import HTTPConnection, HTTPException
from http.server import BaseHTTPRequestHandler, HTTPServer

#: Fault kinds, in the order their rates are laid out on [0, 1) (fixed, so the dict order of
#: ``rates`` does not change which fault a draw selects).
FAULTS = ("429", "500", "503", "slow", "truncated_json", "wrong_schema", "empty_choices", "drop", "hollow_choice")
#: Fault kinds answered without calling the upstream.
LOCAL_FAULTS = ("429", "500", "503", "drop")

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}

ERROR_BODIES = {
    "429": ("Rate limit reached (injected by FaultyProxy).", "rate_limit_error", "rate_limit_exceeded"),
    "500": ("The server had an error while processing your request (injected by FaultyProxy).", "server_error", None),
    "503": ("The server is overloaded or not ready yet (injected by FaultyProxy).", "server_error", None),
}
WRONG_SCHEMA_BODY = b'{"result": "ok"}'
DISCONNECTS = (ConnectionError, TimeoutError, OSError)


class _Server(socketserver.ThreadingMixIn, HTTPServer):
    """A threading HTTP server that tracks its handler threads and sockets itself, so that
    closing it can cut idle keep-alive connections and join every thread with a bound."""

    daemon_threads = True  # a safety net only: close() joins them all
    block_on_close = False
    allow_reuse_address = False

    def __init__(self, proxy: FaultyProxy):
        self.proxy = proxy
        self.live_threads: set[threading.Thread] = set()
        self.live_sockets: set[socket.socket] = set()
        self.track = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn, a reverse DNS look-up; not wanted here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        request.settimeout(self.proxy.socket_timeout)
        thread = threading.Thread(
            target=self._run, args=(request, client_address), name=f"FaultyProxy-{client_address[1]}", daemon=True
        )
        with self.track:
            self.live_threads.add(thread)
            self.live_sockets.add(request)
        thread.start()

    def _run(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception as exc:  # noqa: BLE001 - recorded, never printed
            self.proxy._record_error(exc)
        finally:
            self.shutdown_request(request)
            with self.track:
                self.live_sockets.discard(request)
                self.live_threads.discard(threading.current_thread())

    def handle_error(self, request, client_address):  # pragma: no cover - _run catches first
        pass

    def cut_connections(self):
        with self.track:
            socks = list(self.live_sockets)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):
        self._serve(body=b"")

    def do_POST(self):
        body = self._read_body()
        if body is None:
            return
        self._serve(body)

    # -- request side -------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    self.close_connection = True
                    return None
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self, body: bytes):
        proxy = self.server.proxy
        path = urllib.parse.urlsplit(self.path).path
        eligible = self.command == "POST" and path.rstrip("/") in proxy.fault_paths
        kind = proxy._draw(self.command, self.path, eligible)
        if eligible:
            proxy._record_model(body)
        try:
            if kind in ERROR_BODIES:
                self._answer_error(kind)
            elif kind == "drop":
                # No status line, no headers: the client sees the connection closed under it.
                self.close_connection = True
            else:
                if kind == "slow" and proxy._stopping.wait(proxy.slow_seconds):
                    self.close_connection = True
                    return
                self._forward(body, kind)
        except DISCONNECTS:
            # The client went away (e.g. it timed out during a "slow" fault): nothing to answer.
            self.close_connection = True

    # -- response side ------------------------------------------------------------------------

    def _answer_error(self, kind: str):
        message, err_type, code = ERROR_BODIES[kind]
        payload = json.dumps({"error": {"message": message, "type": err_type, "param": None, "code": code}}).encode()
        self.send_response(int(kind))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if kind == "429":
            self.send_header("Retry-After", _seconds(self.server.proxy.retry_after))
        self.end_headers()
        self.wfile.write(payload)

    def _forward(self, body: bytes, kind: str | None):
        proxy = self.server.proxy
        try:
            status, reason, headers, payload = proxy._call_upstream(self.command, self.path, self.headers, body)
        except (OSError, HTTPException) as exc:
            proxy._record_upstream_error(exc)
            payload = json.dumps(
                {
                    "error": {
                        "message": f"FaultyProxy: upstream failed: {exc!r}",
                        "type": "bad_gateway",
                        "param": None,
                        "code": None,
                    }
                }
            ).encode()
            status, reason, headers = 502, "Bad Gateway", [("Content-Type", "application/json")]
        if status == 200 and kind is not None:
            payload = _mutate(kind, payload)
            if kind == "wrong_schema":
                headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
                headers.append(("Content-Type", "application/json"))
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _mutate(kind: str, payload: bytes) -> bytes:
    if kind == "truncated_json":
        return payload[: len(payload) // 2]
    if kind == "wrong_schema":
        return WRONG_SCHEMA_BODY
    if kind not in ("empty_choices", "hollow_choice"):  # e.g. a "slow" answer the client waited for
        return payload
    try:
        data = json.loads(payload)
    except ValueError:  # e.g. a streamed (SSE) body: left as it is
        return payload
    if not isinstance(data, dict):
        return payload
    # empty_choices: no choice at all; hollow_choice: one choice with nothing in it (no message, no logprobs)
    data["choices"] = [] if kind == "empty_choices" else [{}]
    return json.dumps(data).encode()


class FaultyProxy:
    """Reverse proxy from ``self.url`` to ``upstream`` that injects faults at set rates.

    Args:
        upstream: base URL of the real server, e.g. ``"http://127.0.0.1:8000"`` (a trailing
            ``/v1`` is ignored: paths are forwarded as the client sent them).
        rates: fault kind -> probability per eligible request; kinds are those in ``FAULTS``;
            their sum must be <= 1, the rest is forwarded clean.
        seed: seed of the ``random.Random`` the faults are drawn from.
        slow_seconds: how long a ``"slow"`` request waits before it is forwarded.
        retry_after: seconds sent in the ``Retry-After`` header of a ``"429"``.
        fail_first_n: the first n eligible requests all get ``first_fault`` (no random draw).
        first_fault: the fault kind of those first n requests.
        fault_paths: the POST paths eligible for faults.
        socket_timeout: timeout of every socket operation with a client (seconds).
        upstream_timeout: timeout of every socket operation with the upstream (seconds).

    ``truncated_json``, ``wrong_schema``, ``empty_choices`` and ``hollow_choice`` rewrite only a 200 from the
    upstream (an upstream error passes through as it is, still counted as that fault); they assume
    non-streamed JSON bodies (a streamed body is buffered, then cut or replaced, never re-chunked).
    An upstream that cannot be reached is answered 502 (and recorded in ``upstream_errors``).

    Attributes:
        url: ``"http://127.0.0.1:<port>/v1"``, the base URL to give a client.
        counts: dict kind -> how many injected, plus ``"clean"`` (eligible, forwarded untouched)
            and ``"passthrough"`` (not eligible, e.g. GET /v1/models, forwarded untouched);
            its values sum to ``requests``.
        requests: total requests received.
        history: ``(method, path, kind)`` of each request in arrival order (kind is a fault
            kind, ``"clean"`` or ``"passthrough"``).
        models: completion requests per ``model`` named in their body.
        upstream_errors: exceptions from the upstream call (each answered 502 to the client).
        errors: unexpected exceptions in handler threads (should stay empty).
    """

    def __init__(
        self,
        upstream: str,
        rates: dict[str, float] | None = None,
        seed: int = 0,
        *,
        slow_seconds: float = 3.0,
        retry_after: float = 0,
        fail_first_n: int = 0,
        first_fault: str = "500",
        fault_paths: tuple[str, ...] = ("/v1/chat/completions", "/v1/completions"),
        socket_timeout: float = 30.0,
        upstream_timeout: float = 60.0,
    ):
        rates = dict(rates or {})
        unknown = set(rates) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULTS}")
        if any(r < 0 for r in rates.values()) or sum(rates.values()) > 1 + 1e-9:
            raise ValueError(f"rates must be >= 0 and sum to at most 1: {rates}")
        if first_fault not in FAULTS:
            raise ValueError(f"unknown first_fault {first_fault!r}; known: {FAULTS}")
        if fail_first_n < 0:
            raise ValueError("fail_first_n must be >= 0")
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream = upstream
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        self.rates = rates
        self.seed = seed
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.fail_first_n = fail_first_n
        self.first_fault = first_fault
        self.fault_paths = tuple(p.rstrip("/") for p in fault_paths)
        self.socket_timeout = socket_timeout
        self.upstream_timeout = upstream_timeout

        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counts = {kind: 0 for kind in (*FAULTS, "clean", "passthrough")}
        self._eligible_seen = 0
        self._history: list[tuple[str, str, str]] = []
        self._models: dict[str, int] = {}
        self._upstream_errors: list[BaseException] = []
        self._errors: list[BaseException] = []
        self._upstream_socks: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FaultyProxy:
        if self._server is not None:
            raise RuntimeError("FaultyProxy already started")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="FaultyProxy-serve", daemon=True
        )
        self._thread.start()
        return self

    def close(self, join_timeout: float = 10.0) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes "slow" waits
        server.shutdown()  # stops accepting; returns once serve_forever has exited
        self._thread.join(join_timeout)
        server.cut_connections()  # unblocks handlers idling on keep-alive reads
        with self._lock:
            upstream = list(self._upstream_socks)
        for sock in upstream:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + join_timeout
        with server.track:
            threads = list(server.live_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        server.server_close()
        alive = [t.name for t in threads if t.is_alive()]
        if alive or self._thread.is_alive():
            raise RuntimeError(f"FaultyProxy threads still alive after {join_timeout} s: {alive}")

    def __enter__(self) -> FaultyProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- public state -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FaultyProxy is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self._history)

    @property
    def history(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._history)

    @property
    def models(self) -> dict[str, int]:
        """Completion requests per ``model`` named in their body."""
        with self._lock:
            return dict(self._models)

    @property
    def upstream_errors(self) -> list[BaseException]:
        with self._lock:
            return list(self._upstream_errors)

    @property
    def errors(self) -> list[BaseException]:
        with self._lock:
            return list(self._errors)

    # -- internals (called from handler threads) ----------------------------------------------

    def _draw(self, method: str, path: str, eligible: bool) -> str | None:
        """The fault for this request (None: forward untouched), recorded in the counts."""
        with self._lock:
            if not eligible:
                kind, label = None, "passthrough"
            else:
                if self._eligible_seen < self.fail_first_n:
                    kind = self.first_fault
                else:
                    u, kind, edge = self._rng.random(), None, 0.0
                    for fault in FAULTS:
                        edge += self.rates.get(fault, 0.0)
                        if u < edge:
                            kind = fault
                            break
                self._eligible_seen += 1
                label = kind or "clean"
            self._counts[label] += 1
            self._history.append((method, path, label))
            return kind

    def _record_model(self, body: bytes) -> None:
        try:
            model = str(json.loads(body).get("model"))
        except (ValueError, AttributeError):
            model = "<unreadable body>"
        with self._lock:
            self._models[model] = self._models.get(model, 0) + 1

    def _call_upstream(self, method: str, path: str, headers, body: bytes):
        conn = HTTPConnection(self.upstream_host, self.upstream_port, timeout=self.upstream_timeout)
        sock = None
        try:
            conn.connect()
            sock = conn.sock
            with self._lock:
                self._upstream_socks.add(sock)
                if self._stopping.is_set():  # close() may have cut the others already
                    raise ConnectionAbortedError("FaultyProxy is closing")
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"{self.upstream_host}:{self.upstream_port}")
            for name, value in headers.items():
                if name.lower() in HOP_BY_HOP or name.lower() in ("host", "content-length", "accept-encoding"):
                    continue
                conn.putheader(name, value)
            conn.putheader("Accept-Encoding", "identity")  # plain bodies, so faults can cut them
            if body or method == "POST":
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            payload = resp.read()
            out = [
                (k, v)
                for k, v in resp.getheaders()
                if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-length", "server", "date")
            ]
            return resp.status, resp.reason, out, payload
        finally:
            with self._lock:
                self._upstream_socks.discard(sock)
            conn.close()

    def _record_upstream_error(self, exc: BaseException) -> None:
        with self._lock:
            self._upstream_errors.append(exc)

    def _record_error(self, exc: BaseException) -> None:
        if isinstance(exc, DISCONNECTS):
            return  # a client closing its side is normal traffic here
        with self._lock:
            self._errors.append(exc)
