"""A fake OpenAI-compatible HTTP server on 127.0.0.1, for tests that drive the real `openai` SDK.

Stdlib only (`http.server`), HTTP/1.1 keep-alive, Nagle off (docs/reference.md#test-servers: without
`disable_nagle_algorithm` every keep-alive request costs ~44 ms). Nothing here touches the internet.

```python
def test_x(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue({"summary": "ok", "findings": []}, cached_tokens=500)
    fake_openai.fail(429, code="rate_limit_exceeded", retry_after=0.1, times=2)
    ...                                          # point base_url at fake_openai.url
    assert fake_openai.requests[0].body["model"] == "gpt-4o-mini"
```

Endpoints: `POST /v1/chat/completions` (non-streaming) and `GET /v1/models`. A request without an
`Authorization` header gets 401. Replies come from the `enqueue()` queue, else from `.responder`, else
from a default that answers a `json_schema` response format with a minimal object valid for the schema.

`dialect` makes the server behave like another OpenAI-compatible server: "openai" (the default),
"llama-cpp-python" (HTTP 500 naming `response_format` for anything but `text` / `json_object`, as its
pydantic validation does), "ignores-format" (accepts any `response_format` and ignores it: the model
answers JSON only when the system prompt spells out the schema, else prose), "prose" (the JSON answer
wrapped in prose and a code fence).

Faults (`fail`, `delay`, `malformed`, `drop`) are rules matched in the order they were added; each
fires `times` times (None = forever) after letting `after` matching requests through, optionally only
for requests sent with one API key (`when_key`) or to one path.

Recorded requests keep the `Authorization` header so a test can tell which key was used; their repr
masks it, so a failing assertion never prints a key. Compare keys with `which_keys()`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["FakeOpenAI", "RecordedRequest", "closed_port_url", "fake_openai", "running_fake", "schema_example"]

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "text-embedding-3-small")
Content = str | dict[str, Any] | list[Any]


def _mask(value: str) -> str:
    return "…" + value[-4:] if len(value) > 8 else "…"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it. `headers` keys are lower-case; repr masks Authorization."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    body: Any
    text: str = field(repr=False)

    @property
    def api_key(self) -> str | None:
        """The bearer token sent, or None. Compare it; never print it."""
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None

    def __repr__(self) -> str:
        key = self.api_key
        return (
            f"RecordedRequest({self.method} {self.path}, key={_mask(key) if key else None}, "
            f"model={self.body.get('model') if isinstance(self.body, dict) else None!r})"
        )


@dataclass
class _Reply:
    content: Content | None
    model: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None
    refusal: str | None


@dataclass
class _Rule:
    kind: str  # "fail" | "delay" | "malformed" | "drop"
    times: int | None
    after: int
    when_key: str | None
    path: str | None
    status: int = 500
    code: str | None = None
    type: str | None = None
    message: str | None = None
    retry_after: float | str | None = None
    retry_after_ms: float | None = None
    seconds: float = 0.0
    body: str = ""

    def take(self, req: RecordedRequest) -> bool:
        """True when this rule fires for `req` (consuming one of its `times`)."""
        if self.when_key is not None and req.api_key != self.when_key:
            return False
        if self.path is not None and not req.path.startswith(self.path):
            return False
        if self.after > 0:
            self.after -= 1
            return False
        if self.times is not None:
            if self.times <= 0:
                return False
            self.times -= 1
        return True


_DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "Incorrect API key provided: {key}. You can find your API key at https://platform.example/keys.",
    403: "You are not allowed to sample from this model.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached. Please try again later.",
    500: "The server had an error while processing your request.",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}


class FakeOpenAI:
    """Controller of one running fake server. All methods are thread-safe."""

    def __init__(self, host: str, port: int) -> None:
        self.url = f"http://{host}:{port}/v1"
        self.requests: list[RecordedRequest] = []
        self.responder: Callable[[dict[str, Any]], Content] | None = None
        self.models: list[str] = list(DEFAULT_MODELS)
        self.dialect = "openai"  # | "llama-cpp-python" | "ignores-format" | "prose"
        self._lock = threading.Lock()
        self._queue: deque[_Reply] = deque()
        self._rules: list[_Rule] = []
        self._ids = itertools.count(1)
        self.stopping = threading.Event()
        self.connections = 0  # TCP connections accepted

    def connected(self) -> None:
        with self._lock:
            self.connections += 1

    # ------------------------------------------------------------------------------------ scripting
    def reset(self) -> None:
        """Forget recorded requests, queued replies, faults and the responder."""
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self._rules.clear()
            self.responder = None
            self.models = list(DEFAULT_MODELS)
            self.dialect = "openai"

    def enqueue(
        self,
        content: Content | None,
        *,
        model: str | None = None,
        finish_reason: str | None = "stop",
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cached_tokens: int | None = 0,
        refusal: str | None = None,
    ) -> None:
        """Queue one chat answer. A dict/list is sent as JSON text. `model` defaults to the request's.

        Token counts default to ceil(chars / 4) of the prompt and of the answer. `cached_tokens=None`
        omits `prompt_tokens_details`, as many OpenAI-compatible servers do. With `refusal`, the
        message carries `refusal` and `content` is null.
        """
        with self._lock:
            self._queue.append(
                _Reply(content, model, finish_reason, prompt_tokens, completion_tokens, cached_tokens, refusal)
            )

    def fail(
        self,
        status: int,
        *,
        code: str | None = None,
        type: str | None = None,  # mirrors the API's error.type
        message: str | None = None,
        times: int | None = 1,
        retry_after: float | str | None = None,
        retry_after_ms: float | None = None,
        when_key: str | None = None,
        after: int = 0,
        path: str | None = None,
    ) -> None:
        """Answer matching requests with `status` and an OpenAI error body.

        `message` defaults to a realistic text; the 401 default echoes the whole key sent, so tests
        prove that nothing of a server's message reaches our errors. `path` limits the rule to paths
        starting with it (e.g. "/v1/models").
        """
        with self._lock:
            self._rules.append(
                _Rule(
                    "fail", times, after, when_key, path, status=status, code=code, type=type,
                    message=message, retry_after=retry_after, retry_after_ms=retry_after_ms,
                )
            )  # fmt: skip

    def delay(self, seconds: float, *, times: int | None = 1, when_key: str | None = None, after: int = 0) -> None:
        """Wait `seconds` before answering (a slow first byte); the other rules decide the reply."""
        with self._lock:
            self._rules.append(_Rule("delay", times, after, when_key, None, seconds=seconds))

    def malformed(
        self, *, times: int | None = 1, body: str = '{"id": "chatcmpl-broken", "choices": [', after: int = 0
    ) -> None:
        """Answer 200 `application/json` with a body that is not JSON."""
        with self._lock:
            self._rules.append(_Rule("malformed", times, after, None, None, body=body))

    def drop(self, *, times: int | None = 1, when_key: str | None = None, after: int = 0) -> None:
        """Close the connection without sending any response."""
        with self._lock:
            self._rules.append(_Rule("drop", times, after, when_key, None))

    # --------------------------------------------------------------------------------------- reading
    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def which_keys(self, **aliases: str) -> list[str]:
        """Name the key each recorded request used: `which_keys(primary=k1, secondary=k2)` -> aliases.

        A key not among `aliases` shows as "other", a request without one as "none". Lets a test assert
        which key was used without a key ever appearing in an assertion message.
        """
        by_key = {v: k for k, v in aliases.items()}
        with self._lock:
            return [by_key.get(r.api_key or "", "other") if r.api_key else "none" for r in self.requests]

    # ------------------------------------------------------------------------------------- serving
    def _record(self, req: RecordedRequest) -> list[_Rule]:
        with self._lock:
            self.requests.append(req)
            fired = [rule for rule in self._rules if rule.take(req)]
            self._rules = [r for r in self._rules if r.times is None or r.times > 0]
            return fired

    def _next_reply(self) -> _Reply | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _chat_body(self, request: dict[str, Any]) -> dict[str, Any]:
        reply = self._next_reply()
        if reply is None:
            responder = self.responder
            content = responder(request) if responder else default_content(request)
            reply = _Reply(self._in_dialect(request, content), None, "stop", None, None, 0, None)
        text: str | None
        if reply.refusal is not None:
            text = None
        elif isinstance(reply.content, dict | list):
            text = json.dumps(reply.content)
        else:
            text = reply.content
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = math.ceil(len(_message_text(request.get("messages"))) / 4)
        completion = reply.completion_tokens
        if completion is None:
            completion = math.ceil(len(text or reply.refusal or "") / 4)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if reply.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens, "audio_tokens": 0}
            usage["completion_tokens_details"] = {"reasoning_tokens": 0}
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or request.get("model") or "gpt-4o-mini",
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": reply.refusal},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": usage,
        }

    def _in_dialect(self, request: dict[str, Any], content: Content) -> Content:
        """What a model behind a server of `self.dialect` would have said instead of `content`."""
        text = content if isinstance(content, str) else json.dumps(content)
        if self.dialect == "prose":
            return f"Sure! Here is the review you asked for:\n```json\n{text}\n```\nLet me know if {{this}} helps."
        if self.dialect == "ignores-format" and "JSON Schema" not in _message_text(request.get("messages")[:1]):
            return "I looked at it and everything seems fine to me."
        return content

    def rejects(self, request: dict[str, Any]) -> str | None:
        """The error message this server's dialect answers `request` with (HTTP 500), or None."""
        fmt = request.get("response_format")
        if (
            self.dialect == "llama-cpp-python"
            and isinstance(fmt, dict)
            and fmt.get("type") not in ("text", "json_object")
        ):
            return (
                "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
                "'ctx': {'expected': \"'text' or 'json_object'\"}}"
            )
        return None

    def _models_body(self) -> dict[str, Any]:
        with self._lock:
            models = list(self.models)
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in models],
        }


def _message_text(messages: Any) -> str:
    """All text of a `messages` list (plain strings or content parts)."""
    out: list[str] = []
    for msg in messages if isinstance(messages, list) else []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "".join(out)


def default_content(request: dict[str, Any]) -> Content:
    """What the server answers when nothing was queued: schema-valid JSON, `{}` or plain text."""
    fmt = request.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return json.dumps(schema_example(schema))
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return "{}"
    return f"fake answer from {request.get('model', 'a model')}"


def schema_example(schema: dict[str, Any], root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A minimal instance of a JSON schema: every property present, empty arrays, "ok" for strings.

    Handles the subset structured outputs use: type (or a list of types), properties, items,
    minItems, enum, const, anyOf/oneOf/allOf and local `$ref`s to `$defs`/`definitions`.
    """
    root = schema if root is None else root
    if depth > 20:
        return None
    if "$ref" in schema:
        ref = str(schema["$ref"])
        target: Any = root
        for part in ref.removeprefix("#/").split("/") if ref.startswith("#/") else []:
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return schema_example(target if isinstance(target, dict) else {}, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        options = [o for o in schema.get(combinator, []) if o.get("type") != "null"] or schema.get(combinator)
        if options:
            return schema_example(options[0], root, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return schema_example(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties", {})
        return {name: schema_example(sub, root, depth + 1) for name, sub in props.items()}
    if kind == "array":
        item = schema.get("items", {})
        return [schema_example(item, root, depth + 1) for _ in range(int(schema.get("minItems", 0)))]
    if kind == "string":
        return "ok"
    if kind in ("integer", "number"):
        low = schema.get("minimum", 0)
        return int(low) if kind == "integer" else low
    if kind == "boolean":
        return False
    return None


def _error_body(message: str, err_type: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": err_type, "param": None, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    disable_nagle_algorithm = True  # docs/reference.md#test-servers: 44 ms per request otherwise
    timeout = 10  # an idle keep-alive connection's thread ends after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake.connected()  # one handler per TCP connection: keep-alive is countable

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet; the controller records requests

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        req = RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
        fired = fake._record(req)
        for rule in fired:
            if rule.kind == "delay" and fake.stopping.wait(rule.seconds):
                return
        for rule in fired:
            if rule.kind == "drop":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if rule.kind == "malformed":
                self._send(200, rule.body.encode())
                return
            if rule.kind == "fail":
                self._send_error(rule, req)
                return
        if req.api_key is None:
            message = "You didn't provide an API key. Send it in an Authorization header (Bearer auth)."
            self._send_json(401, _error_body(message, "invalid_request_error", None))
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        rejected = fake.rejects(body) if isinstance(body, dict) else None
        if self.command == "POST" and path.endswith("/chat/completions") and rejected is not None:
            self._send_json(500, _error_body(rejected, "internal_server_error", None))
        elif self.command == "POST" and path.endswith("/chat/completions"):
            self._send_json(200, fake._chat_body(body if isinstance(body, dict) else {}))
        elif self.command == "GET" and path.endswith("/models"):
            self._send_json(200, fake._models_body())
        else:
            self._send_json(404, _error_body(f"Unknown path {path}", "invalid_request_error", "unknown_url"))

    def _send_error(self, rule: _Rule, req: RecordedRequest) -> None:
        message = rule.message
        if message is None:
            message = _DEFAULT_MESSAGES.get(rule.status, "Error.").format(key=req.api_key or "")
        err_type = rule.type
        if err_type is None:
            err_type = "server_error" if rule.status >= 500 else "invalid_request_error"
        headers: dict[str, str] = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        if rule.retry_after_ms is not None:
            headers["retry-after-ms"] = str(rule.retry_after_ms)
        self._send_json(rule.status, _error_body(message, err_type, rule.code), headers)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req_fake_{len(self.server.fake.requests)}")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout) and closed the socket
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeOpenAI


@contextlib.contextmanager
def running_fake() -> Iterator[FakeOpenAI]:
    """A fake OpenAI server on 127.0.0.1 (random port), stopped on exit: for a second server in a test
    or one shared by a module (the `fake_openai` fixture is one per test)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    server.fake = FakeOpenAI(str(host), int(port))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.fake.stopping.set()  # wake handlers sleeping in a delay()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake OpenAI server on 127.0.0.1 (random port); stopped after the test."""
    with running_fake() as fake:
        yield fake


@pytest.fixture
def closed_port_url() -> Iterator[str]:
    """An http://127.0.0.1:PORT/v1 URL that refuses connections.

    The port stays bound (not listening) for the test, so no other process can take it meanwhile.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        sock.close()
