"""RemoteProvider against a misbehaving symphony-assist server: every row of the module's fault table.

The server here is a scripted stdlib HTTP server on 127.0.0.1 that answers each request with the next
scripted reply (status, headers, raw body), so a test can send what a broken server, a reverse proxy or
a server of another version would send. The client's sleep is injected: no test waits for a backoff.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from symphony_assist_hooks.assistant.provider import ServiceUnavailableError
from symphony_assist_hooks.assistant.provider.openai import ChatRequest
from symphony_assist_hooks.assistant.provider.remote import (
    DEADLINE_HEADER,
    MAX_RESPONSE_BYTES,
    RemoteBudgetError,
    RemoteProvider,
)
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.config.keys import Secret
from symphony_assist_hooks.errors import (
    AuthError,
    BadAnswerError,
    ModelError,
    NoKeyError,
    QuotaError,
    UnavailableError,
)

CHAT = ChatRequest("system", "user text", "gpt-4o-mini", 0.0, 50)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow server)
    drop: bool = False  # close the connection without an answer


@dataclass
class Scripted:
    url: str
    replies: deque[Reply] = field(default_factory=deque)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        scripted: Scripted = self.server.scripted
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        scripted.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        reply = scripted.replies.popleft() if scripted.replies else Reply(500, b"no reply scripted")
        if reply.delay and scripted.stopping.wait(reply.delay):
            return
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = reply.body
        data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
        try:
            self.send_response(reply.status)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client timed out and left
            self.close_connection = True


@pytest.fixture
def server() -> Iterator[Scripted]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    httpd.scripted = Scripted(f"http://127.0.0.1:{httpd.server_address[1]}/team")  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield httpd.scripted  # type: ignore[attr-defined]
    finally:
        httpd.scripted.stopping.set()  # type: ignore[attr-defined]
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def provider(url: str, *, token: str | None = None, timeout: float = 5.0) -> tuple[RemoteProvider, list[float]]:
    """A RemoteProvider for `url` whose sleeps are recorded instead of slept."""
    settings = Settings(server_url=url, server_token=Secret(token) if token else None, timeout=timeout)
    slept: list[float] = []
    return RemoteProvider(settings, sleep=slept.append), slept


def error(status: int, code: str | None = None, message: str | None = None, **extra: Any) -> Reply:
    """What our server answers for an error: {"error": {"code", "message", ...}}."""
    return Reply(status, {"error": {"code": code, "message": message, **extra}})


def ok(content: str) -> Reply:
    return Reply(200, {"content": content, "prompt_tokens": 1, "completion_tokens": 1, "cached_tokens": 0})


def soon(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


# ------------------------------------------------------------------------------------------- answers
def test_an_answer_fills_defaults_and_floors_negative_counts(server: Scripted) -> None:
    server.script(Reply(200, {"content": "fine", "prompt_tokens": -3, "completion_tokens": 7, "cached_tokens": 0}))
    remote, _ = provider(server.url)
    done = remote.complete(CHAT, deadline=soon())
    assert (done.content, done.model, done.finish_reason) == ("fine", "gpt-4o-mini", "stop")
    assert (done.prompt_tokens, done.completion_tokens, done.key_alias) == (0, 7, "server:?")
    method, path, headers = server.seen[0]
    assert (method, path) == ("POST", "/team/assistant/complete")  # the URL's path is kept as a prefix
    assert 0 < float(headers[DEADLINE_HEADER.lower()]) <= 10
    assert "authorization" not in headers  # no token configured: none sent


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-4o-mini", "prompt_tokens": 1, "completion_tokens": 1},  # no content at all
        {"content": "x", "prompt_tokens": True, "completion_tokens": 1, "cached_tokens": 0},  # a bool is no count
        {"content": "x", "prompt_tokens": "12", "completion_tokens": 1, "cached_tokens": 0},  # nor is a string
    ],
)
def test_an_answer_without_content_or_counts_is_a_bad_answer(server: Scripted, body: dict[str, Any]) -> None:
    server.script(Reply(200, body))
    remote, slept = provider(server.url)
    with pytest.raises(BadAnswerError, match="sent an answer without content") as caught:
        remote.complete(CHAT, deadline=soon())
    assert caught.value.__context__ is None
    assert slept == []  # a well-formed reply is not retried
    assert len(server.seen) == 1


def test_model_list_is_sorted_and_deduplicated(server: Scripted) -> None:
    server.script(Reply(200, {"models": ["gpt-4o", "gpt-4o-mini", "gpt-4o"]}))
    remote, _ = provider(server.url)
    assert remote.list_models(deadline=soon()) == ["gpt-4o", "gpt-4o-mini"]
    assert server.seen[0][:2] == ("GET", "/team/assistant/models")


def test_model_list_error_is_one_scrubbed_line(server: Scripted) -> None:
    token = secrets.token_urlsafe(24)
    leak = "sk-" + secrets.token_hex(12)
    server.script(
        Reply(200, {"models": [], "error": f"upstream said\n\x1b[31mno\x1b[0m: {leak} / {token}" + "!" * 300})
    )
    remote, _ = provider(server.url, token=token)
    with pytest.raises(ServiceUnavailableError, match="cannot list models: upstream said") as caught:
        remote.list_models(deadline=soon())
    text = str(caught.value)
    assert "\n" not in text and "\x1b" not in text
    assert leak not in text and token not in text
    assert text.count("[redacted]") == 2
    assert text.endswith("…")  # cut to one short line


def test_model_list_that_is_not_a_list_is_a_bad_answer(server: Scripted) -> None:
    server.script(Reply(200, {"models": "gpt-4o"}))
    remote, _ = provider(server.url)
    with pytest.raises(BadAnswerError, match="sent no model list"):
        remote.list_models(deadline=soon())


# ------------------------------------------------------------------------------------ final errors
@pytest.mark.parametrize(
    ("reply", "raised", "message"),
    [
        (error(403, "forbidden", "Host header not allowed"), AuthError, r"refused the request \(HTTP 403\): Host"),
        (Reply(403, b"<html>Forbidden</html>"), AuthError, r"refused the request \(HTTP 403\)$"),
        (error(503, "no_key", "no key on this server"), NoKeyError, "has no API key configured: no key on this"),
        (error(503, "no_key"), NoKeyError, "set OPENAI_API_KEY on the server"),
        (error(502, "upstream_quota", "quota exhausted"), QuotaError, ": quota exhausted$"),
        (error(502, "model_error"), ModelError, ": model_error$"),
        (error(502, "bad_answer", "not JSON"), BadAnswerError, ": not JSON$"),
        (error(429, "budget_exceeded", "budget: daily cap reached"), RemoteBudgetError, r"\): daily cap reached$"),
        (Reply(402, b""), RemoteBudgetError, "its budget is spent"),
        (error(404, "not_found", "no such route"), UnavailableError, r"cannot answer \(HTTP 404, not_found\)$"),
        (Reply(415, b"unsupported"), UnavailableError, r"cannot answer \(HTTP 415\)$"),
    ],
)
def test_final_errors_are_raised_at_once(server: Scripted, reply: Reply, raised: type[Exception], message: str) -> None:
    server.script(reply)
    remote, slept = provider(server.url)
    with pytest.raises(raised, match=message) as caught:
        remote.complete(CHAT, deadline=soon())
    assert getattr(caught.value, "attempts", None) == 1
    assert slept == [] and len(server.seen) == 1


def test_upstream_unavailable_carries_the_upstream_status(server: Scripted) -> None:
    server.script(error(503, "upstream_unavailable", None, upstream_status=502), error(503, "upstream_unavailable"))
    remote, _ = provider(server.url)
    with pytest.raises(ServiceUnavailableError, match=r": service unavailable$") as caught:
        remote.complete(CHAT, deadline=soon())
    assert caught.value.status == 502  # the pipeline tries the fallback model after a 5xx
    with pytest.raises(ServiceUnavailableError) as caught:
        remote.complete(CHAT, deadline=soon())
    assert caught.value.status is None


# ---------------------------------------------------------------------------------------- retries
def test_three_malformed_answers_are_a_bad_answer(server: Scripted) -> None:
    server.script(*[Reply(200, b'{"content": "cut off')] * 3)
    remote, slept = provider(server.url)
    with pytest.raises(BadAnswerError, match="sent 3 malformed responses") as caught:
        remote.complete(CHAT, deadline=soon())
    assert caught.value.attempts == 3
    assert len(slept) == 2  # full jitter: at most 0.25 s, then at most 0.5 s
    assert 0 <= slept[0] <= 0.25 and 0 <= slept[1] <= 0.5


def test_a_proxy_error_page_is_retried_then_unavailable(server: Scripted) -> None:
    page = Reply(502, b"<html><body>Bad Gateway</body></html>", {"Retry-After": "soon"})
    server.script(page, page, page)
    remote, slept = provider(server.url)
    with pytest.raises(ServiceUnavailableError) as caught:
        remote.complete(CHAT, deadline=soon())
    assert str(caught.value) == (
        f"the symphony-assist server at {remote.where} is unavailable after 3 tries (HTTP 502)"
    )
    assert caught.value.status == 502
    assert len(slept) == 2 and max(slept) <= 0.5  # an unreadable Retry-After: the client's own backoff


def test_an_oversized_answer_is_not_parsed(server: Scripted) -> None:
    huge = b'{"error": {"code": "model_error", "message": "' + b"x" * MAX_RESPONSE_BYTES + b'"}}'
    server.script(Reply(500, huge), ok("second try"))
    remote, slept = provider(server.url)
    done = remote.complete(CHAT, deadline=soon())
    assert (done.content, done.attempts) == ("second try", 2)  # a 500 it could not read: retried, not a ModelError
    assert len(slept) == 1


def test_retry_after_is_obeyed_unless_it_outlasts_the_deadline(server: Scripted) -> None:
    limited = error(429, "rate_limited", "slow down")
    server.script(
        Reply(429, limited.body, {"Retry-After": "2"}),
        ok("ok"),
        Reply(429, limited.body, {"Retry-After": "7200"}),  # absurd: ignored, the client's backoff instead
        ok("ok"),
        Reply(429, limited.body, {"Retry-After": "30"}),
    )
    remote, slept = provider(server.url)
    assert remote.complete(CHAT, deadline=soon()).attempts == 2
    assert slept == [2.0]
    assert remote.complete(CHAT, deadline=soon()).attempts == 2
    assert len(slept) == 2 and slept[1] <= 0.25
    with pytest.raises(ServiceUnavailableError) as caught:
        remote.complete(CHAT, deadline=soon(5))
    assert str(caught.value).endswith(
        "is unavailable after 1 try (HTTP 429 rate limited): no time left before the deadline"
    )
    assert len(slept) == 2  # it did not sleep 30 s for an answer it could no longer wait for


def test_a_slow_server_times_out_three_times(server: Scripted) -> None:
    server.script(*[Reply(200, {"content": "late"}, delay=5)] * 3)
    remote, slept = provider(server.url, timeout=0.2)
    with pytest.raises(ServiceUnavailableError, match=r"after 3 tries \(timed out after 0.2 s\)$") as caught:
        remote.complete(CHAT, deadline=soon())
    assert caught.value.status is None
    assert len(slept) == 2


def test_a_dropped_connection_is_retried(server: Scripted) -> None:
    server.script(Reply(drop=True), ok("again"))
    remote, _ = provider(server.url)
    assert remote.complete(CHAT, deadline=soon()).content == "again"
    assert len(server.seen) == 2


def test_https_to_a_plain_http_server_fails_without_hanging(server: Scripted) -> None:
    remote, slept = provider(server.url.replace("http://", "https://"))
    with pytest.raises(ServiceUnavailableError, match=r"after 3 tries \(connection failed\)$"):
        remote.complete(CHAT, deadline=soon())
    assert len(slept) == 2


def test_an_unresolvable_host_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    remote, slept = provider("http://assist.example.invalid:8080")
    with pytest.raises(ServiceUnavailableError, match=r"host not resolvable$") as caught:
        remote.complete(CHAT, deadline=soon())
    assert caught.value.attempts == 1 and slept == []
    assert caught.value.__context__ is None  # nothing chained


def test_the_provider_needs_a_server_url() -> None:
    """A guard for callers of the API: `load_settings` never makes such settings (tests/test_config.py)."""
    with pytest.raises(ValueError, match=r"needs settings\.server_url"):
        RemoteProvider(Settings())
    for url in ("ftp://host", "http://"):
        with pytest.raises(ValueError, match="http:// or https://"):
            RemoteProvider(Settings(server_url=url))
    assert RemoteProvider(Settings(server_url="https://[::1]:8443/x")).where == "https://[::1]:8443"
