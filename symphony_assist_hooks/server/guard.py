"""The one ASGI middleware every request passes before any endpoint runs (docs/reference.md#http-server).

In order: the Host header (DNS rebinding; loopback servers only), the Origin (no cross-site calls,
no CORS headers ever), a token bucket per client address, the bearer token (switch-key always;
everything in public mode or on a non-loopback connection), JSON only for bodies, the body size.
Anything an endpoint raises past its own handlers becomes a generic 500 and a scrubbed log line.

Also here: the start-up checks of the token (`check_token`) and the log scrubber.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..config.keys import Secret
from ..errors import UsageError
from ..logsafe import inert, inert_line
from .errors import ApiError

__all__ = [
    "MAX_BODY_BYTES",
    "MIN_TOKEN_LENGTH",
    "SWITCH_PATH",
    "Buckets",
    "Guard",
    "Limits",
    "check_token",
    "is_loopback",
    "scrubber",
]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
MIN_TOKEN_LENGTH = 32
SWITCH_PATH = "/assistant/switch-key"


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or "localhost" (a bind address or a connection's local address)."""
    if not host:
        return False
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Buckets:
    """Token buckets keyed by client address: `capacity` tokens, refilled at `rate` per second."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, client: str, now: float) -> float:
        tokens, at = self._state.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.rate)

    def wait(self, client: str) -> float:
        """0 when `client` has a token left, else the seconds until it has one. Takes nothing."""
        with self._lock:
            level = self._level(client, time.monotonic())
            return 0.0 if level >= 1 else (1 - level) / self.rate

    def take(self, client: str) -> float:
        """Take a token: 0 when granted, else the seconds until one is available (nothing taken)."""
        now = time.monotonic()
        with self._lock:
            level = self._level(client, now)
            if level < 1:
                return (1 - level) / self.rate
            if len(self._state) > 10_000:  # forget clients whose bucket is full again
                self._state = {c: s for c, s in self._state.items() if self._level(c, now) < self.capacity}
            self._state[client] = (level - 1, now)
            return 0.0


@dataclass(frozen=True)
class Limits:
    """Request limits: body size, requests per client, failed token checks per client."""

    max_body: int = MAX_BODY_BYTES
    burst: int = 120
    per_second: float = 20.0
    auth_failures: int = 5
    auth_failures_per_minute: float = 5.0


class Guard:
    """Host/Origin checks, rate limits, the bearer token, JSON only, size limits, and no tracebacks."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: Secret | None,
        public: bool,
        limits: Limits,
        scrub: Callable[[str], str],
        hosts: frozenset[str] = frozenset(),
    ):
        """`hosts`: the names a reverse proxy sends in Host (with or without a port); empty = any when public."""
        self.app = app
        self.hosts = hosts
        self.token = token.reveal().encode() if token is not None else None
        self.public = public
        self.limits = limits
        self.scrub = scrub
        self.requests = Buckets(limits.burst, limits.per_second)
        self.failures = Buckets(limits.auth_failures, limits.auth_failures_per_minute / 60)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self.screen(scope)
            receive = await self.read_body(scope, receive)
        except ApiError as err:
            headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else {}
            if "retry_after" in err.extra:
                headers["Retry-After"] = str(err.extra.pop("retry_after"))
            await err.response(headers)(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # the last line of defence: a generic answer, a scrubbed log
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            where = inert_line(f"{scope.get('method')} {scope.get('path')}")  # the path is the client's
            log.error("%s failed: %s", where, inert(self.scrub(text)))
            if not started:
                await ApiError(500, "internal", "internal server error").response()(scope, receive, send)

    def screen(self, scope: Scope) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        server = scope.get("server") or (None, None)
        local_host, port = server[0], server[1]
        public = self.public or not is_loopback(local_host)
        host = headers.get("host", "").lower()
        if self.hosts and host not in loopback_authorities(port):
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
            if name not in self.hosts and host not in self.hosts:
                raise ApiError(400, "bad_host", "the Host header must be one of SYMPHONY_ASSIST_SERVER_HOSTS")
        elif not public and host not in loopback_authorities(port):
            raise ApiError(400, "bad_host", "the Host header must name this loopback server (127.0.0.1:<port>)")
        origin = headers.get("origin")
        if origin is not None and not local_origin(origin, port):
            raise ApiError(403, "bad_origin", "cross-origin requests are refused")
        client = (scope.get("client") or ("unknown",))[0] or "unknown"
        wait = self.requests.take(client)
        if wait:
            raise ApiError(429, "rate_limited", "too many requests: slow down", retry_after=math.ceil(wait))
        if public or scope["path"].rstrip("/").endswith(SWITCH_PATH.rsplit("/", 1)[1]):
            self.authenticate(client, headers.get("authorization", ""), public)
        if scope["method"] in ("POST", "PUT", "PATCH"):
            media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                raise ApiError(415, "unsupported_media_type", "send the body as application/json")

    def authenticate(self, client: str, header: str, public: bool) -> None:
        if self.token is None:
            if public:
                raise ApiError(403, "token_required", "set SYMPHONY_ASSIST_SERVER_TOKEN to serve non-loopback clients")
            raise ApiError(403, "token_required", "switch-key needs SYMPHONY_ASSIST_SERVER_TOKEN set on the server")
        wait = self.failures.wait(client)
        if wait:
            raise ApiError(429, "too_many_failures", "too many failed token checks", retry_after=math.ceil(wait))
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode("latin-1"), self.token):
            return
        if header:  # a wrong guess; a request without a token guesses nothing
            self.failures.take(client)
        raise ApiError(401, "unauthorized", "a valid bearer token is required")

    async def read_body(self, scope: Scope, receive: Receive) -> Receive:
        """Read the whole body (at most `max_body` bytes: 413 beyond) and replay it to the app."""
        limit = self.limits.max_body
        for name, value in scope["headers"]:
            if name.lower() == b"content-length" and (not value.isdigit() or int(value) > limit):
                raise ApiError(413, "too_large", f"the body may be at most {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "too_large", f"the body may be at most {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return replay


def loopback_authorities(port: int | None) -> set[str]:
    """`host:port` forms naming this loopback server (the bare names too on port 80)."""
    names = ("127.0.0.1", "localhost", "[::1]")
    return {f"{h}:{port}" for h in names} | (set(names) if port == 80 else set())


def local_origin(origin: str, port: int | None) -> bool:
    scheme, sep, rest = origin.lower().partition("://")
    return bool(sep) and scheme in ("http", "https") and rest in loopback_authorities(port)


def scrubber(settings: Settings) -> Callable[[str], str]:
    """A function that masks the configured keys and the token, and blanks anything key-like, in log text."""
    secrets_ = [s for s in (settings.api_key_primary, settings.api_key_secondary, settings.server_token) if s]
    keylike = re.compile(r"(?i)\b(?:bearer\s+\S+|sk-[\w\-*.]{4,})")

    def scrub(text: str) -> str:
        for s in secrets_:
            if s.reveal():
                text = text.replace(s.reveal(), s.masked())
        return keylike.sub("[redacted]", text)

    return scrub


def check_token(settings: Settings, public: bool) -> None:
    """Raise UsageError for a missing token in public mode, or a token shorter than MIN_TOKEN_LENGTH."""
    token = settings.server_token
    if token is None:
        if public:
            raise UsageError(
                "refusing to serve beyond loopback without a token: set SYMPHONY_ASSIST_SERVER_TOKEN "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return
    if len(token.reveal()) < MIN_TOKEN_LENGTH:
        raise UsageError(
            f"SYMPHONY_ASSIST_SERVER_TOKEN is too short ({len(token.reveal())} characters): use at least "
            f"{MIN_TOKEN_LENGTH} random characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
