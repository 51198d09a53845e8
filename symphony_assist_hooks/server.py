"""The HTTP API (extra `server`): one host keeps the OpenAI keys, the cache and the budget for a team (#7).

    uvicorn symphony_assist_hooks.server:app           # settings from the environment, loopback
    symphony-assist serve [--host 127.0.0.1] [--port 8000]

A thin adapter over the same core as the command: every endpoint is a call on `Assistant`,
`review_changes`, the KeyRing or the stats log. JSON in, JSON out; every error is
`{"error": {"code", "message"}}` with a one-line message (never a traceback, never a key).

| endpoint                    | in → out                                                                  |
|-----------------------------|---------------------------------------------------------------------------|
| GET  /healthz               | {"status": "ok", "version"}                                               |
| GET  /assistant/models      | the service's models, the active key alias, keys masked (`sk-…abcd`)      |
| POST /assistant/query       | {"prompt", "model"?, "temperature"?, "max_tokens"?, "metadata"?,          |
|                             | "template"?, "context"?} → {"model", "content", "usage": {"total_tokens", |
|                             | "prompt_tokens", "completion_tokens"}, "cached"}                          |
| POST /assistant/switch-key  | {"key": "primary" or "secondary"} → {"active", "key_hint"}; the key is    |
|                             | validated with a models call first; a token is always required           |
| POST /assistant/review      | {"diff": unified diff, "templates"?, ...} → {"findings": [...], counts}   |
| GET  /assistant/templates   | the prompt templates                                                      |
| GET  /assistant/stats       | hit rate, tokens, spend against the budget, savings (as `stats --json`)   |
| POST /assistant/complete    | a ChatRequest → a Completion: what `RemoteProvider` calls, so clients     |
|                             | keep their own cache-hit path and the server holds keys, budget and cache |
| GET  /openapi.json, /docs   | the schema, and Swagger UI for loopback use (off in public mode)          |

`metadata` is accepted for the caller's bookkeeping and used for nothing; `context` (a string, or an
object of named strings) is appended to the prompt and is part of the cache key.

Security (RELIABILITY.md §4), enforced by one ASGI middleware (`_Guard`) before any endpoint runs:
- Loopback by default. A bearer token (`SYMPHONY_ASSIST_SERVER_TOKEN`, at least 32 characters) is
  required for switch-key always, and for every endpoint in public mode (`serve --host` not loopback)
  and for any connection that did not arrive on a loopback address (`uvicorn --host 0.0.0.0`): without
  a token such a server answers loopback clients only. Compared with `secrets.compare_digest` on bytes.
- DNS rebinding: unless public, the Host header must be 127.0.0.1, localhost or [::1] with the
  listening port (else 400); a non-local Origin is refused with 403 (no CORS headers are ever sent).
- JSON only (415), bodies up to 1 MiB (413), a token bucket per client address (429), and failed
  token checks throttled per client (429: a handful per minute, then every token is refused until
  the bucket refills, the right one too, so throttling is no oracle). Run uvicorn without
  `--proxy-headers` behind no proxy: the client address is what rate limits are keyed by.
- Keys never leave the process: responses show the alias and a masked hint only, logged tracebacks
  are scrubbed of configured keys and anything key-like, and a failed endpoint answers 500
  `{"error": {"code": "internal"}}`.

Budget: the server's ledger holds the daily and monthly caps for everyone; `budget_run` caps each
HTTP request. Its refusal is HTTP 402 `budget_exceeded`; a RemoteProvider turns it into BudgetError.

Coalescing: identical concurrent requests (same cache key; for /assistant/complete the same prompt up
to the random delimiter nonce) make one upstream call. The first request (the leader) runs the
pipeline; the others wait for its result. The leader reports what happened to it (`cached: false`
after an upstream call); followers report `cached: true` with zero usage, as a cache hit would: they
caused no upstream call and no spend. Coalescing is per process (uvicorn `--workers` do not share it).

`/assistant/review` parses the diff with `git.parse_patch` and never reads this host's repositories or
writes a file: the text analyzers see is rebuilt from the diff (context and added lines), through a
seam installed over `git.file_text` for sources named `server-diff:<id>` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ipaddress
import json
import logging
import math
import re
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__, git
from .assistant import Assistant, cache_key
from .assistant.budget import Ledger, Reservation, format_usd, open_ledger
from .assistant.cache import Cache, open_cache
from .assistant.keys import KeyRing
from .assistant.prompts import Registry, load_registry
from .assistant.provider import NO_KEY_MESSAGE, ChatRequest, OpenAIProvider, UnusableAnswerError
from .assistant.remote import DEADLINE_HEADER
from .assistant.stats import StatsLog, summarize
from .config import Secret, Settings, load_settings, user_dirs
from .errors import (
    AuthError,
    BadAnswerError,
    BudgetError,
    GitError,
    ModelError,
    NoKeyError,
    ProviderError,
    QuotaError,
    SecretScanError,
    SymphonyError,
    UnavailableError,
    UsageError,
)
from .review import ReviewOptions, review_changes

__all__ = ["MAX_BODY_BYTES", "MIN_TOKEN_LENGTH", "create_app", "is_loopback"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
MIN_TOKEN_LENGTH = 32
MODELS_TTL = 300.0  # seconds the service's model list is reused
SWITCH_PATH = "/assistant/switch-key"
T = TypeVar("T")


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


# --------------------------------------------------------------------------------------- the bodies
def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_text)]
# Constraints go before the validator: after it, pydantic cannot show them in the JSON schema.
Prompt = Annotated[str, Field(min_length=1), AfterValidator(_text)]
Model = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_text)]
Temperature = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)]
MaxTokens = Annotated[int, Field(ge=1, le=100_000)]
TemplateName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QueryIn(_In):
    prompt: Prompt
    model: Model | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    metadata: dict[str, Any] | None = Field(default=None, description="the caller's; used for nothing")
    template: TemplateName | None = Field(default=None, description="a template name (default: general)")
    context: Text | dict[str, Text] | None = Field(default=None, description="appended to the prompt")


class Usage(BaseModel):
    total_tokens: int
    prompt_tokens: int
    completion_tokens: int


class QueryOut(BaseModel):
    model: str
    content: str
    usage: Usage
    cached: bool


class SwitchKeyIn(_In):
    key: Literal["primary", "secondary"]


class SwitchKeyOut(BaseModel):
    active: str
    key_hint: str | None


class KeyOut(BaseModel):
    alias: str
    key_hint: str | None
    configured: bool
    active: bool


class ModelsOut(BaseModel):
    models: list[str]
    active_key: str | None
    keys: list[KeyOut]
    primary_model: str
    fallback_model: str
    error: str | None = None


class JsonSchemaSpec(_In):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool = True
    description: Text | None = None


class CompleteIn(_In):
    system: Text
    user: Prompt
    model: Model
    temperature: Temperature
    max_tokens: MaxTokens
    json_schema: JsonSchemaSpec | None = None

    def chat(self) -> ChatRequest:
        spec: dict[str, Any] | None = None
        if self.json_schema is not None:
            s = self.json_schema
            spec = {"name": s.name, "schema": s.schema_, "strict": s.strict}
            if s.description:
                spec["description"] = s.description
        return ChatRequest(self.system, self.user, self.model, self.temperature, self.max_tokens, spec)


class CompletionOut(BaseModel):
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    finish_reason: str
    key_alias: str
    attempts: int
    latency: float
    cached: bool


class ReviewIn(_In):
    diff: Annotated[
        str,
        Field(pattern=r"(^|\n)diff --git ", description="`git diff` output (with diff --git headers)"),
        AfterValidator(_text),
    ]
    templates: Annotated[list[TemplateName], Field(min_length=1, max_length=10)] | None = None
    model: Model | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None


class FindingOut(BaseModel):
    path: str
    line: int
    end_line: int
    severity: str
    rule: str
    title: str
    message: str
    suggestion: str
    source: str
    template: str
    fingerprint: str


class ReviewOut(BaseModel):
    findings: list[FindingOut]
    files: int
    hunks: int
    cache_hits: int
    api_requests: int
    local_answers: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    saved_usd: float
    redactions: int
    dropped: int
    suppressed: int
    fallback_reason: str | None
    skipped: dict[str, int]
    notices: list[str]
    cached: bool


class TemplateOut(BaseModel):
    name: str
    kind: str
    description: str
    source: str


class TemplatesOut(BaseModel):
    templates: list[TemplateOut]


class HealthOut(BaseModel):
    status: str
    version: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    upstream_status: int | None = None
    fields: list[FieldError] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# --------------------------------------------------------------------------------------- errors
class ApiError(Exception):
    """An error answer: HTTP status, a stable code and a one-line message."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message, **self.extra}}, self.status, headers)


def _api_error(exc: SymphonyError) -> ApiError:
    """The one mapping from the core's errors to HTTP (RemoteProvider maps them back)."""
    msg = str(exc)
    if isinstance(exc, BudgetError):
        return ApiError(402, "budget_exceeded", msg)
    if isinstance(exc, NoKeyError):
        return ApiError(503, "no_key", msg)
    if isinstance(exc, AuthError):
        return ApiError(502, "upstream_auth", msg)
    if isinstance(exc, QuotaError):
        return ApiError(502, "upstream_quota", msg)
    if isinstance(exc, ModelError):
        return ApiError(400, "model_error", msg)
    if isinstance(exc, BadAnswerError):
        return ApiError(502, "bad_answer", msg)
    if isinstance(exc, UnavailableError):
        return ApiError(503, "upstream_unavailable", msg, upstream_status=getattr(exc, "status", None))
    if isinstance(exc, ProviderError):
        return ApiError(502, "upstream_error", msg)
    if isinstance(exc, SecretScanError):
        return ApiError(422, "secret_scan", msg)
    if isinstance(exc, UsageError | GitError):
        return ApiError(400, "bad_request", msg)
    return ApiError(503, "server_error", msg)


def _reason_error(reason: str | None) -> ApiError:
    """Why the pipeline fell back (a one-line reason) → the error answer."""
    reason = reason or "the service did not answer"
    if reason.startswith("budget"):
        return ApiError(402, "budget_exceeded", reason)
    if "no API key" in reason:
        return ApiError(503, "no_key", reason)
    return ApiError(503, "upstream_unavailable", reason)


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "bad request or Host header"),
        (401, "token missing or wrong"),
        (402, "the server's budget refused the call"),
        (403, "forbidden (Origin, token not configured)"),
        (413, "body over 1 MiB"),
        (415, "not application/json"),
        (422, "invalid body"),
        (429, "rate limited"),
        (502, "the upstream service failed"),
        (503, "the upstream service is unavailable"),
    )
}


# --------------------------------------------------------------------------------------- the guard
class _Buckets:
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


class _Guard:
    """Host/Origin checks, rate limits, the bearer token, JSON only, size limits, and no tracebacks."""

    def __init__(
        self, app: ASGIApp, *, token: Secret | None, public: bool, limits: Limits, scrub: Callable[[str], str]
    ):
        self.app = app
        self.token = token.reveal().encode() if token is not None else None
        self.public = public
        self.limits = limits
        self.scrub = scrub
        self.requests = _Buckets(limits.burst, limits.per_second)
        self.failures = _Buckets(limits.auth_failures, limits.auth_failures_per_minute / 60)

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
            log.error("%s %s failed: %s", scope.get("method"), scope.get("path"), self.scrub(text))
            if not started:
                await ApiError(500, "internal", "internal server error").response()(scope, receive, send)

    def screen(self, scope: Scope) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        server = scope.get("server") or (None, None)
        local_host, port = server[0], server[1]
        public = self.public or not is_loopback(local_host)
        if not public and headers.get("host", "").lower() not in _loopback_authorities(port):
            raise ApiError(400, "bad_host", "the Host header must name this loopback server (127.0.0.1:<port>)")
        origin = headers.get("origin")
        if origin is not None and not _local_origin(origin, port):
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


def _loopback_authorities(port: int | None) -> set[str]:
    """`host:port` forms naming this loopback server (the bare names too on port 80)."""
    names = ("127.0.0.1", "localhost", "[::1]")
    return {f"{h}:{port}" for h in names} | (set(names) if port == 80 else set())


def _local_origin(origin: str, port: int | None) -> bool:
    scheme, sep, rest = origin.lower().partition("://")
    return bool(sep) and scheme in ("http", "https") and rest in _loopback_authorities(port)


# --------------------------------------------------------------------------------------- coalescing
class _SingleFlight:
    """One in-flight call per key; concurrent callers with the same key await the same result."""

    def __init__(self) -> None:
        self._calls: dict[str, asyncio.Task[Any]] = {}

    async def run(self, key: str, fn: Callable[[], T]) -> tuple[T, bool]:
        """(result, True for the caller that ran `fn`). `fn` runs in a worker thread; a caller that
        disconnects does not cancel it, so the others still get the answer."""
        task = self._calls.get(key)
        leader = task is None
        if task is None:
            task = asyncio.ensure_future(anyio.to_thread.run_sync(fn))
            self._calls[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        result: T = await asyncio.shield(task)
        return result, leader

    def _done(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._calls.get(key) is task:
            del self._calls[key]
        if not task.cancelled():
            task.exception()  # retrieved: a failure nobody awaited is not logged as "never retrieved"


# --------------------------------------------------------------------------------------- the core
class _RequestLedger:
    """The server's shared ledger (day and month caps, for everyone) plus `budget_run` for one request."""

    def __init__(self, shared: Ledger, cap: int | None) -> None:
        self._shared = shared
        self._cap = cap
        self._spent = 0
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, amount: int) -> Reservation:
        with self._lock:
            held = sum(self._open.values())
            if self._cap is not None and amount > 0 and self._spent + held + amount > self._cap:
                raise BudgetError(
                    f"budget: per-request cap of {format_usd(self._cap)} reached "
                    f"(this call needs up to {format_usd(amount)})"
                )
            res = self._shared.reserve(amount)
            self._open[res.id] = res.amount
            return res

    def settle(self, res: Reservation, actual: int) -> None:
        self._shared.settle(res, actual)
        with self._lock:
            self._open.pop(res.id, None)
            self._spent += actual

    def release(self, res: Reservation) -> None:
        self._shared.release(res)
        with self._lock:
            self._open.pop(res.id, None)

    def status(self) -> dict[str, Any]:
        return self._shared.status()


_NONCE = re.compile(r"<data-([0-9a-f]{16})>")
_DIFF_SOURCE = "server-diff:"
_diff_texts: dict[str, dict[str, str]] = {}
_diff_lock = threading.Lock()


def completion_key(req: ChatRequest) -> str:
    """The server's cache key of a chat request. The random delimiter nonce the client drew
    (prompts.render_items) is keyed by position only: the texts are split at that nonce, so two
    requests share a key exactly when they are equal up to a consistent renaming of it."""
    nonce = _NONCE.search(req.user.split("\n", 1)[0])
    split = (lambda text: text.split(nonce.group(1))) if nonce else (lambda text: [text])
    canonical = json.dumps(
        ["complete/1", split(req.system), split(req.user), req.model, req.temperature, req.max_tokens, req.json_schema],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class _Core:
    """What every request shares: settings, cache, ledger, keys, provider, registry."""

    def __init__(self, settings: Settings) -> None:
        # A server never forwards to another server (nor to itself).
        self.settings = replace(settings, server_url=None, server_token=None)
        self.registry: Registry = load_registry(settings.project_root)
        self.cache: Cache = open_cache(self.settings, self.warn)
        self.ledger: Ledger = open_ledger(replace(self.settings, budget_run=None), warn=self.warn)
        self.run_cap = None if settings.budget_run is None else round(settings.budget_run * 1_000_000)
        self.state_path = user_dirs()[1] / "state.json"
        self.keys = KeyRing(settings.api_key_primary, settings.api_key_secondary, self.state_path)
        self.provider = OpenAIProvider(self.settings, self.keys) if settings.has_key else None
        self._models: tuple[float, list[str]] | None = None
        self._switch_lock = threading.Lock()

    def warn(self, message: str) -> None:
        log.warning("%s", message)

    def assistant(self) -> Assistant:
        return Assistant(
            self.settings,
            cache=self.cache,
            ledger=_RequestLedger(self.ledger, self.run_cap),
            provider=self.provider,
            registry=self.registry,
            warn=self.warn,
        )

    def close(self) -> None:
        self.cache.close()
        if self.provider is not None:
            self.provider.close()
        close = getattr(self.ledger, "close", None)
        if callable(close):
            close()

    # -------------------------------------------------------------------------------- query
    def query_text(self, body: QueryIn) -> str:
        if body.context is None:
            return body.prompt
        if isinstance(body.context, str):
            return f"{body.prompt}\n\nContext:\n{body.context}"
        parts = "\n\n".join(f"## {name}\n{value}" for name, value in sorted(body.context.items()))
        return f"{body.prompt}\n\nContext:\n{parts}"

    def query_key(self, body: QueryIn) -> str:
        """The cache key `Assistant.query` files this question under (single-flight key)."""
        from .redact import REDACTION_POLICY_VERSION, redact

        template = body.template or "general"
        tmpl = self.registry.get(template)  # UsageError for an unknown template: 400
        content = self.query_text(body)
        with contextlib.suppress(SymphonyError):
            content = redact(content)[0]
        return cache_key(
            frame="answer",
            frame_sha=self.registry.frame("answer").sha256,
            template=template,
            template_sha=tmpl.sha256,
            model=body.model or self.settings.model_primary,
            label="",
            content=content,
            temperature=self.settings.temperature if body.temperature is None else body.temperature,
            max_tokens=body.max_tokens or self.settings.max_tokens,
            redaction=REDACTION_POLICY_VERSION,
        )

    def query(self, body: QueryIn) -> QueryOut:
        template = body.template or "general"
        resp = self.assistant().query(
            self.query_text(body),
            template=template,
            model=body.model,
            temperature=body.temperature,
            max_tokens=body.max_tokens,
        )
        result = resp.get("q1", template)
        if result.data is None:
            raise _reason_error(resp.fallback_reason)
        api = result.source == "api"
        prompt, completion = (resp.prompt_tokens, resp.completion_tokens) if api else (0, 0)
        return QueryOut(
            model=result.model or body.model or self.settings.model_primary,
            content=str(result.data.get("answer", "")),
            usage=Usage(total_tokens=prompt + completion, prompt_tokens=prompt, completion_tokens=completion),
            cached=result.source == "cache",
        )

    # -------------------------------------------------------------------------------- complete
    def complete(self, req: ChatRequest, key: str, deadline: float) -> CompletionOut:
        from .assistant.pricing import cost_micro, price_for, worst_case_micro

        stats = StatsLog(self._stats_path(), "server-" + uuid.uuid4().hex[:12])
        hit = self.cache.get(key) or {}
        stored = hit.get("completion")
        if isinstance(stored, dict) and isinstance(stored.get("content"), str):
            model = str(stored.get("model") or req.model)
            stats.record("cache", template="remote", model=model, saved_micro=int(hit.get("cost_micro") or 0))
            finish = str(stored.get("finish_reason") or "stop")
            return CompletionOut(
                content=stored["content"], model=model, finish_reason=finish, key_alias="cache", cached=True, **_FREE
            )
        if self.provider is None:
            raise NoKeyError(NO_KEY_MESSAGE)
        price = price_for(req.model, self.settings.prices)
        ledger = _RequestLedger(self.ledger, self.run_cap)
        reservation = ledger.reserve(worst_case_micro(price, req.system + req.user, req.max_tokens))
        try:
            done = self.provider.complete(req, deadline=deadline)
        except UnusableAnswerError as exc:
            c = exc.completion
            ledger.settle(reservation, cost_micro(price, c.prompt_tokens, c.completion_tokens, c.cached_tokens))
            raise
        except BaseException:
            ledger.release(reservation)
            raise
        actual = cost_micro(price, done.prompt_tokens, done.completion_tokens, done.cached_tokens)
        ledger.settle(reservation, actual)
        stats.record(
            "request",
            template="remote",
            model=done.model,
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            cached_tokens=done.cached_tokens,
            cost_micro=actual,
            latency_ms=round(done.latency * 1000, 1),
            key=done.key_alias,
        )
        out = CompletionOut(
            content=done.content,
            model=done.model,
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            cached_tokens=done.cached_tokens,
            finish_reason=done.finish_reason,
            key_alias=done.key_alias,
            attempts=done.attempts,
            latency=done.latency,
            cached=False,
        )
        if req.json_schema is None or _is_json_object(done.content):  # never cache an unusable document
            keep = out.model_dump(include={"content", "model", "finish_reason"})
            self.cache.set(
                key,
                {"completion": keep, "model": done.model, "cost_micro": actual},
                ttl=self.settings.cache_ttl or None,
            )
        return out

    def _stats_path(self) -> Path | None:
        if self.settings.cache_backend == "memory":
            return None
        return self.settings.resolved_cache_dir / "stats.jsonl"

    # -------------------------------------------------------------------------------- review
    def review(self, body: ReviewIn) -> ReviewOut:
        templates = tuple(body.templates or self.settings.templates)
        for name in templates:
            self.registry.get(name)  # UsageError: 400
        changes, texts = _diff_changes(body.diff)
        source = _DIFF_SOURCE + uuid.uuid4().hex
        opts = ReviewOptions(
            source="staged",
            templates=templates,
            model=body.model,
            temperature=body.temperature,
            max_tokens=body.max_tokens,
        )
        with _diff_lock:
            _diff_texts[source] = texts
        try:
            report = review_changes(
                self.settings, opts, assistant=self.assistant(), changes=replace(changes, source=source)
            )
        finally:
            with _diff_lock:
                _diff_texts.pop(source, None)
        counts = {name: getattr(report, name) for name in ReviewOut.model_fields if name not in ("findings", "cached")}
        return ReviewOut(
            findings=[FindingOut(**f.to_dict()) for f in report.findings],
            cached=report.api_requests == 0 and report.cache_hits > 0,
            **counts,
        )

    # -------------------------------------------------------------------------------- keys, models, stats
    def models(self) -> ModelsOut:
        keys = [KeyOut(**{k: row[k] for k in KeyOut.model_fields}) for row in self.keys.describe()]
        active = next((k.alias for k in keys if k.active), None)
        doc = ModelsOut(
            models=[],
            active_key=active,
            keys=keys,
            primary_model=self.settings.model_primary,
            fallback_model=self.settings.model_fallback,
        )
        if self.provider is None:
            return doc.model_copy(update={"error": NO_KEY_MESSAGE})
        cached = self._models
        if cached is not None and time.monotonic() - cached[0] < MODELS_TTL:
            return doc.model_copy(update={"models": cached[1]})
        try:
            models = self.provider.list_models(deadline=time.monotonic() + self.settings.timeout)
        except (ProviderError, NoKeyError) as exc:
            return doc.model_copy(update={"error": str(exc)})
        self._models = (time.monotonic(), models)
        return doc.model_copy(update={"models": models})

    def switch(self, alias: str, client: str) -> SwitchKeyOut:
        """Validate the key with a models call, then make it the active one (persisted)."""
        key = self.settings.api_key_primary if alias == "primary" else self.settings.api_key_secondary
        if key is None:
            raise UsageError(f"the {alias} key is not configured on the server")
        with self._switch_lock:
            before = self.keys.active_alias
            probe = OpenAIProvider(
                self.settings,
                KeyRing(key if alias == "primary" else None, key if alias == "secondary" else None, self.state_path),
            )
            try:
                probe.list_models(deadline=time.monotonic() + self.settings.timeout)
            except (AuthError, QuotaError) as exc:
                raise ApiError(400, "key_rejected", f"{exc}; the active key is still {before}") from None
            except ProviderError as exc:
                raise ApiError(
                    503,
                    "cannot_validate",
                    f"cannot check the {alias} key now ({exc}); the active key is still {before}",
                ) from None
            finally:
                probe.close()
            self.keys.switch(alias)
        log.info("switch-key: %s -> %s (%s) requested by %s", before, alias, key.masked(), client)
        return SwitchKeyOut(active=alias, key_hint=key.masked())

    def stats(self) -> dict[str, Any]:
        path = self._stats_path()
        summary = summarize(StatsLog(path).read())
        try:
            budget = self.ledger.status()
            budget.pop("path", None)
        except BudgetError as exc:
            budget = {"error": str(exc)}
        entries = self.cache.info().get("entries")
        return {"cached_responses": entries, "budget": budget, **summary.as_dict()}


_FREE: dict[str, Any] = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0, "attempts": 0, "latency": 0.0}


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


# --------------------------------------------------------------------------------------- diffs
def _diff_changes(diff: str) -> tuple[git.Changes, dict[str, str]]:
    """A unified diff → Changes and, per file, the new-side text the diff shows (other lines empty).

    Skips what a local review skips before reading content: deletions, binaries, submodules,
    symlinks, mode-only changes and sensitive paths. Nothing is read from or written to disk."""
    from .redact import is_sensitive_path

    files: list[git.FileDiff] = []
    skipped: dict[str, int] = {}
    texts: dict[str, str] = {}
    parsed = git.parse_patch(diff)
    if not parsed:
        raise UsageError("no file in the diff: send `git diff` output (with `diff --git` headers)")
    for fd in parsed:
        reason = None
        if fd.status == "D":
            reason = "deleted"
        elif fd.binary:
            reason = "binary"
        elif fd.submodule or fd.symlink:
            reason = "submodule" if fd.submodule else "symlink"
        elif not fd.path or is_sensitive_path(fd.path):
            reason = "sensitive"
        elif not fd.hunks:
            reason = "mode only" if fd.mode_only else "no changes"
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        files.append(fd)
        lines: dict[int, str] = {}
        for hunk in fd.hunks:
            lines.update((ln.new_no, ln.text) for ln in hunk.lines if ln.new_no is not None)
        last = max(lines, default=0)
        texts[fd.path] = "\n".join(lines.get(n, "") for n in range(1, last + 1)) + "\n"
    return git.Changes(files=tuple(files), skipped=skipped, source=_DIFF_SOURCE), texts


def _install_diff_seam() -> None:
    """Make `git.file_text(s)` answer `server-diff:` sources from the diff a client sent, so a review
    served here never reads this host's repository. Other sources go to git as before.

    A process-wide patch because review.py reads file text through module functions of git.py; a
    `review_changes(..., file_text=...)` parameter would make it unnecessary."""
    one, many = git.file_text, git.file_texts
    if getattr(one, "diff_seam", False):
        return

    def sent(path: str, source: str, max_bytes: int) -> str | None:
        with _diff_lock:
            text = _diff_texts.get(source, {}).get(path)
        return text if text is None or len(text.encode()) <= max_bytes else None

    def file_text(
        path: str,
        source: str = "staged",
        *,
        max_bytes: int = git.DEFAULT_MAX_FILE_BYTES,
        cwd: git.PathArg | None = None,
    ) -> str | None:
        if source.startswith(_DIFF_SOURCE):
            return sent(path, source, max_bytes)
        return one(path, source, max_bytes=max_bytes, cwd=cwd)

    def file_texts(
        paths: Iterable[str],
        source: str = "staged",
        *,
        max_bytes: int = git.DEFAULT_MAX_FILE_BYTES,
        cwd: git.PathArg | None = None,
    ) -> dict[str, str | None]:
        if source.startswith(_DIFF_SOURCE):
            return {p: sent(p, source, max_bytes) for p in paths}
        return many(paths, source, max_bytes=max_bytes, cwd=cwd)

    file_text.diff_seam = True  # type: ignore[attr-defined]
    git.file_text, git.file_texts = file_text, file_texts


# --------------------------------------------------------------------------------------- the app
def _scrubber(settings: Settings) -> Callable[[str], str]:
    secrets_ = [s for s in (settings.api_key_primary, settings.api_key_secondary, settings.server_token) if s]
    keylike = re.compile(r"(?i)\b(?:bearer\s+\S+|sk-[\w\-*.]{4,})")

    def scrub(text: str) -> str:
        for s in secrets_:
            if s.reveal():
                text = text.replace(s.reveal(), s.masked())
        return keylike.sub("[redacted]", text)

    return scrub


def _check_token(settings: Settings, public: bool) -> None:
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


def create_app(settings: Settings | None = None, *, public: bool = False, limits: Limits | None = None) -> FastAPI:
    """The API over `settings` (default: from the environment). `public=True` (a non-loopback bind)
    needs `settings.server_token`, requires it on every endpoint, drops the Host check and the docs.

    Raises UsageError for a missing (public) or short token."""
    settings = settings if settings is not None else load_settings()
    _check_token(settings, public)
    _install_diff_seam()
    core = _Core(settings)
    flights = _SingleFlight()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            core.close()

    app = FastAPI(
        title="symphony-assist",
        version=__version__,
        description="One host keeps the OpenAI keys, the cache and the budget for a team.",
        docs_url=None if public else "/docs",
        redoc_url=None,
        lifespan=lifespan,
        responses=_ERRORS,
    )
    app.add_middleware(
        _Guard, token=settings.server_token, public=public, limits=limits or Limits(), scrub=_scrubber(settings)
    )
    # Documents the token where it is required (the guard enforces it): switch-key always, all in public mode.
    token_dep = [Depends(HTTPBearer(auto_error=False, description="SYMPHONY_ASSIST_SERVER_TOKEN"))]
    bearer = token_dep if public else []

    async def in_thread(fn: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(fn)
        except SymphonyError as exc:
            raise _api_error(exc) from None

    async def coalesced(key: str, fn: Callable[[], T]) -> tuple[T, bool]:
        try:
            return await flights.run(key, fn)
        except SymphonyError as exc:
            raise _api_error(exc) from None

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = fields[0] if fields else {"loc": [], "msg": "invalid body"}
        where = ".".join(str(p) for p in first["loc"])
        message = f"invalid request: {where + ': ' if where else ''}{first['msg']}"
        return ApiError(422, "invalid_request", message, fields=fields).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, code, str(exc.detail)).response(exc.headers)

    @app.get("/healthz", dependencies=bearer)
    async def healthz() -> HealthOut:
        return HealthOut(status="ok", version=__version__)

    @app.get("/assistant/models", dependencies=bearer)
    async def models() -> ModelsOut:
        return await in_thread(core.models)

    @app.post("/assistant/query", dependencies=bearer)
    async def query(body: QueryIn) -> QueryOut:
        try:
            key = core.query_key(body)
        except SymphonyError as exc:
            raise _api_error(exc) from None
        out, leader = await coalesced("query:" + key, lambda: core.query(body))
        return (
            out
            if leader
            else out.model_copy(
                update={"cached": True, "usage": Usage(total_tokens=0, prompt_tokens=0, completion_tokens=0)}
            )
        )

    @app.post(SWITCH_PATH, dependencies=token_dep)
    async def switch_key(body: SwitchKeyIn, request: Request) -> SwitchKeyOut:
        client = request.client.host if request.client else "unknown"
        return await in_thread(lambda: core.switch(body.key, client))

    @app.post("/assistant/review", dependencies=bearer)
    async def review(body: ReviewIn) -> ReviewOut:
        key = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        out, leader = await coalesced("review:" + key, lambda: core.review(body))
        return out if leader else out.model_copy(update={"cached": True})

    @app.get("/assistant/templates", dependencies=bearer)
    async def templates() -> TemplatesOut:
        rows = [t for t in core.registry.all() if not t.hidden]
        return TemplatesOut(
            templates=[TemplateOut(name=t.name, kind=t.kind, description=t.description, source=t.source) for t in rows]
        )

    @app.get("/assistant/stats", dependencies=bearer)
    async def stats() -> dict[str, Any]:
        return await in_thread(core.stats)

    @app.post("/assistant/complete", dependencies=bearer, openapi_extra=_DEADLINE_PARAMETER)
    async def complete(body: CompleteIn, request: Request) -> CompletionOut:
        req = body.chat()
        key = completion_key(req)
        left = _seconds(request.headers.get(DEADLINE_HEADER), core.settings.deadline)
        deadline = time.monotonic() + left
        out, leader = await coalesced("complete:" + key, lambda: core.complete(req, key, deadline))
        return out if leader else out.model_copy(update={**_FREE, "key_alias": "coalesced", "cached": True})

    names = sorted(t.name for t in core.registry.all() if not t.hidden)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_templates(generate(), names)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_DEADLINE_PARAMETER: dict[str, Any] = {
    "parameters": [
        {
            "name": DEADLINE_HEADER,
            "in": "header",
            "required": False,
            "description": "seconds the client will still wait (capped by the server's deadline)",
            "schema": {"type": "number", "exclusiveMinimum": 0},
        }
    ]
}


def _seconds(raw: str | None, cap: float) -> float:
    """The client's remaining time from its header, within [1, cap]; `cap` when absent or not a number."""
    try:
        value = float(raw) if raw is not None else cap
    except ValueError:
        return cap
    return max(1.0, min(cap, value)) if math.isfinite(value) else cap  # at least 1 s: a call takes time


def _document_templates(schema: dict[str, Any], names: list[str]) -> None:
    """Name the templates this server knows in the schema (its registry is fixed at start-up)."""
    props = schema["components"]["schemas"]
    enum = {"type": "string", "enum": names}
    query = props["QueryIn"]["properties"]["template"]
    query["anyOf"] = [enum, {"type": "null"}]
    review = props["ReviewIn"]["properties"]["templates"]
    review["anyOf"] = [{"type": "array", "items": enum, "minItems": 1, "maxItems": 10}, {"type": "null"}]


@functools.cache
def _default_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> Any:
    """`app` is built on first access (`uvicorn symphony_assist_hooks.server:app`), from the environment."""
    if name == "app":
        return _default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
