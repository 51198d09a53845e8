"""Provider: one chat request in, one Completion out, or one ProviderError saying why not.

`OpenAIProvider` talks to OpenAI or any OpenAI-compatible server (`base_url`) through the official
SDK, imported lazily on the first call (`import openai` costs ~0.5 s: PERFORMANCE.md §1, §9; importing
this module pulls in no openai, httpx2 or pydantic). The SDK's own retries are off (`max_retries=0`);
one loop here decides, per fault (RELIABILITY.md §5):

| fault                                             | what happens                                       |
|---------------------------------------------------|----------------------------------------------------|
| 429 rate limit, 408/409, 5xx, timeout, dropped    | retry: full-jitter backoff (0.5 s doubling, cap    |
| connection, malformed body                        | 8 s) or the server's Retry-After; 3 tries at most, |
|                                                   | never past the deadline -> UnavailableError        |
|                                                   | (BadAnswerError for a body that stays malformed)   |
| Retry-After longer than the time left             | give up at once -> UnavailableError                |
| connection refused, host not resolvable           | no retry -> UnavailableError (hooks fall back now) |
| 401/403                                           | the other key at once (KeyRing.failover); none     |
|                                                   | left -> AuthError                                  |
| insufficient_quota, credit_balance_exhausted,     | the other key at once, no retry (the SDK would     |
| *_spend_limit_exceeded, organization_usage_limit_ | retry these like rate limits); none left ->        |
| exceeded (as error code or type), HTTP 402        | QuotaError                                         |
| 404, 400 context_length_exceeded, other 4xx       | ModelError: the pipeline tries the fallback model  |
| finish_reason length / content_filter, refusal,   | UnusableAnswerError (a BadAnswerError carrying the |
| empty answer                                      | billed usage), no retry                            |

Every UnavailableError raised here is a ServiceUnavailableError whose `.status` is the HTTP status
of the last failed try (None for timeouts and connection failures): the pipeline tries the fallback
model after a 5xx and stops asking after anything else.

Keys: the only place a key is revealed is the SDK client's constructor. Error messages name key
aliases ("primary"), never keys; no message text from the server or the SDK reaches an error except
a 4xx explanation scrubbed of anything key-like; our errors are raised outside `except` blocks so
they chain nothing (`__cause__` and `__context__` are None), as the SDK's exceptions hold the request
with its Authorization header and may quote the key (a 401 body does).
"""

from __future__ import annotations

import email.utils
import errno
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from ..config import Secret, Settings
from ..errors import (
    AuthError,
    BadAnswerError,
    ModelError,
    NoKeyError,
    ProviderError,
    QuotaError,
    UnavailableError,
)
from .keys import ENV_VARS, KeyRing
from .pricing import estimate_tokens

if TYPE_CHECKING:
    import httpx2
    from openai import OpenAI

__all__ = [
    "NO_KEY_MESSAGE",
    "ChatRequest",
    "Completion",
    "OpenAIProvider",
    "Provider",
    "ServiceUnavailableError",
    "UnusableAnswerError",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # tries per call for transient faults (key failovers are not counted)
BACKOFF_BASE = 0.5  # seconds; doubled per retry, full jitter (same base and cap as the SDK)
BACKOFF_CAP = 8.0
CONNECT_TIMEOUT = 5.0  # seconds, as the SDK's default (CONVENTIONS.md §6.4)
NO_KEY_MESSAGE = "no API key configured: set OPENAI_API_KEY (or OPENAI_API_KEY_PRIMARY / OPENAI_API_KEY_SECONDARY)"
_QUOTA_CODES = frozenset({"insufficient_quota", "credit_balance_exhausted", "organization_usage_limit_exceeded"})
_KEYLIKE = re.compile(r"(?i)\b(?:bearer\s+\S+|sk-[\w\-*.]{4,})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

T = TypeVar("T")


@dataclass(frozen=True)
class ChatRequest:
    """One chat call. `json_schema` = {"name": ..., "schema": ...} (optionally "strict", default True,
    and "description") asks for structured output (`response_format` type json_schema); the caller
    validates the answer."""

    system: str
    user: str
    model: str
    temperature: float
    max_tokens: int
    json_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Completion:
    """An answer and what it cost.

    `model` is the model the service says answered (may carry a date suffix); token counts come from
    the service's usage (estimated conservatively when a server omits it); `cached_tokens` is a subset
    of `prompt_tokens`; `attempts` counts HTTP requests made, failovers included; `latency` is the
    seconds the whole call took, retries and waits included.
    """

    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    finish_reason: str
    key_alias: str
    attempts: int
    latency: float


class UnusableAnswerError(BadAnswerError):
    """The service answered, and billed for it, but the answer cannot be used (truncated, refused,
    filtered, empty). `.completion` carries the usage so the caller can settle the budget."""

    def __init__(self, message: str, completion: Completion) -> None:
        super().__init__(message)
        self.completion = completion


class ServiceUnavailableError(UnavailableError):
    """An UnavailableError with the HTTP status of the last failed try (None: timeout, connection).

    The pipeline tries the fallback model after a 5xx, and stops asking after anything else (a
    refused connection, a rate limit that outlasts the deadline)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Provider(Protocol):
    """Something that answers chat requests. `deadline` is a `time.monotonic()` value: no call runs past it.

    `complete` raises NoKeyError, or a ProviderError subclass (AuthError, QuotaError, ModelError,
    BadAnswerError, UnavailableError) whose str() is one line safe to print.
    """

    name: str

    def complete(self, req: ChatRequest, *, deadline: float) -> Completion: ...

    def list_models(self, *, deadline: float) -> list[str]: ...


# ---------------------------------------------------------------------------- one attempt's outcome
@dataclass(frozen=True)
class _Ok(Generic[T]):
    value: T


@dataclass(frozen=True)
class _Retry:
    problem: str  # for the final message: "HTTP 503", "timed out after 30 s"
    retry_after: float | None = None
    malformed: bool = False
    status: int | None = None


@dataclass(frozen=True)
class _Failover:
    reason: str  # "HTTP 401", "insufficient_quota"
    quota: bool


@dataclass(frozen=True)
class _Fatal:
    error: type[ProviderError]
    message: str


_Outcome = _Retry | _Failover | _Fatal


class OpenAIProvider:
    """The official OpenAI SDK (or any OpenAI-compatible server at `settings.base_url`).

    One SDK client per key, created on first use and reused (keep-alive). `sleep` is called for
    backoff waits (tests inject a recorder); `http_client` (an `httpx2.Client`, e.g. with a
    `MockTransport`) replaces the SDK's own transport. Thread-safe: `Assistant.ask_many` calls
    `complete` from several threads.
    """

    name: str = "openai"

    def __init__(
        self,
        settings: Settings,
        keys: KeyRing,
        *,
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx2.Client | None = None,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._sleep = sleep
        self._http_client = http_client
        self._clients: dict[str, OpenAI] = {}
        self._lock = threading.Lock()
        self._exhausted: tuple[type[ProviderError], str] | None = None
        self._random = random.Random()  # noqa: S311 - backoff jitter, not cryptography
        self._where = _origin(settings.base_url)
        # The official API wants max_completion_tokens (max_tokens is refused by reasoning models);
        # OpenAI-compatible servers (Ollama, vLLM, gateways) know max_tokens.
        official = settings.base_url is None or urlsplit(settings.base_url).hostname == "api.openai.com"
        self._max_tokens_param = "max_completion_tokens" if official else "max_tokens"

    # ---------------------------------------------------------------------------------- public API
    def complete(self, req: ChatRequest, *, deadline: float) -> Completion:
        """Ask `req`; return the Completion or raise (see the module table). Retries never pass `deadline`."""
        started = time.monotonic()
        params: dict[str, Any] = {
            "model": req.model,
            "messages": [{"role": "system", "content": req.system}, {"role": "user", "content": req.user}],
            "temperature": req.temperature,
            self._max_tokens_param: req.max_tokens,
        }
        if req.json_schema is not None:
            spec: dict[str, Any] = {
                "name": req.json_schema["name"],
                "strict": bool(req.json_schema.get("strict", True)),
                "schema": req.json_schema["schema"],
            }
            if req.json_schema.get("description"):
                spec["description"] = req.json_schema["description"]
            params["response_format"] = {"type": "json_schema", "json_schema": spec}

        def call(client: OpenAI, timeout: httpx2.Timeout) -> Any:
            return client.chat.completions.create(**params, timeout=timeout)

        def parse(raw: Any, alias: str, attempts: int) -> Completion | _Retry:
            return self._completion(req, raw, alias, attempts, started)

        return self._run(call, parse, deadline=deadline, model=req.model)

    def list_models(self, *, deadline: float) -> list[str]:
        """The ids of the models the service offers, sorted. Same faults and failover as `complete`."""

        def call(client: OpenAI, timeout: httpx2.Timeout) -> Any:
            return client.models.list(timeout=timeout)

        def parse(raw: Any, alias: str, attempts: int) -> list[str] | _Retry:
            data = getattr(raw, "data", None)
            if not isinstance(data, list):
                return _Retry("malformed response (no model list)", malformed=True)
            return sorted({str(m.id) for m in data if getattr(m, "id", None)})

        return self._run(call, parse, deadline=deadline, model=None)

    def close(self) -> None:
        """Close the SDK clients (their connection pools). An injected `http_client` is left open."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        if self._http_client is None:
            for client in clients:
                client.close()

    # ------------------------------------------------------------------------------------ the loop
    def _run(
        self,
        call: Callable[[OpenAI, httpx2.Timeout], Any],
        parse: Callable[[Any, str, int], T | _Retry],
        *,
        deadline: float,
        model: str | None,
    ) -> T:
        """Try `call` with the active key until it succeeds, a fault is final, or the deadline nears."""
        if self._keys.active() is None:  # fail before paying for the SDK import
            raise self._no_usable_key({})
        if deadline <= time.monotonic():
            raise _gave_up(0, None, "the deadline was reached")
        import httpx2
        import openai  # the miss path only: ~0.5 s

        attempts = 0
        transient = 0  # tries that ended in a retryable fault
        last: _Retry | None = None
        failures: dict[str, tuple[str, bool]] = {}  # alias -> (reason, is quota)
        while True:
            active = self._keys.active()
            if active is None:
                raise self._no_usable_key(failures)
            alias, key = active
            left = deadline - time.monotonic()
            if left <= 0:
                raise _gave_up(transient, last, "the deadline was reached")
            timeout = min(self._settings.timeout, left)
            client = self._client(alias, key)
            attempts += 1
            # connect phase capped like the SDK's default: an unreachable host must not eat the read timeout
            limits = httpx2.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
            outcome: _Ok[Any] | _Outcome = self._attempt(openai, call, client, limits, model)
            if isinstance(outcome, _Ok):
                result = parse(outcome.value, alias, attempts)
                if not isinstance(result, _Retry):
                    return result
                outcome = result
            log.debug("%s: %s key, attempt %d: %s", self._where, alias, attempts, _describe(outcome))

            if isinstance(outcome, _Fatal):
                raise outcome.error(outcome.message)
            if isinstance(outcome, _Failover):
                failures[alias] = (outcome.reason, outcome.quota)
                if self._keys.failover(failed=alias) is None:
                    raise self._no_usable_key(failures)
                continue

            transient += 1
            last = outcome
            if transient >= MAX_ATTEMPTS:
                if outcome.malformed:
                    raise BadAnswerError(f"the service sent {transient} malformed responses ({outcome.problem})")
                raise _gave_up(transient, outcome, None)
            left = deadline - time.monotonic()
            if outcome.retry_after is not None:
                if outcome.retry_after > left:  # never sleep minutes inside a git hook
                    raise ServiceUnavailableError(
                        f"service unavailable ({outcome.problem}): it asks to wait {outcome.retry_after:g} s, "
                        f"more than the {max(left, 0):.1f} s left before the deadline",
                        outcome.status,
                    )
                wait = outcome.retry_after
            else:
                wait = self._random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (transient - 1)))
            if wait >= left:
                raise _gave_up(transient, outcome, "no time left before the deadline")
            self._sleep(wait)

    def _attempt(
        self,
        openai: Any,
        call: Callable[[OpenAI, httpx2.Timeout], Any],
        client: OpenAI,
        timeout: httpx2.Timeout,
        model: str | None,
    ) -> _Ok[Any] | _Outcome:
        """One HTTP request. Every exception becomes an outcome here, so nothing raised later chains to
        an SDK exception (which holds the request, Authorization header included)."""
        try:
            return _Ok(call(client, timeout))
        except Exception as exc:  # classified; KeyboardInterrupt and SystemExit pass through
            return self._classify(openai, exc, timeout.read or 0.0, model)

    def _classify(self, openai: Any, exc: Exception, timeout: float, model: str | None) -> _Outcome:
        if isinstance(exc, openai.APITimeoutError):
            return _Retry(f"timed out after {timeout:.3g} s")
        if isinstance(exc, openai.APIConnectionError):
            cause = _root_os_error(exc)
            if isinstance(cause, socket.gaierror):
                return _Fatal(ServiceUnavailableError, f"cannot reach {self._where}: host name not resolvable")
            if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
                return _Fatal(ServiceUnavailableError, f"cannot reach {self._where}: connection refused")
            return _Retry("connection failed")
        if isinstance(exc, openai.APIStatusError):
            return self._classify_status(exc, model)
        if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError | openai.APIResponseValidationError):
            return _Retry("malformed response (invalid JSON)", malformed=True)  # RELIABILITY.md §0.5
        return _Fatal(ProviderError, f"the OpenAI client failed ({type(exc).__name__})")

    def _classify_status(self, exc: Any, model: str | None) -> _Outcome:
        status = int(exc.status_code)
        code = str(exc.code or "")
        kind = str(exc.type or "")
        for value in (code, kind):
            if value in _QUOTA_CODES or value.endswith("_spend_limit_exceeded"):
                return _Failover(value, quota=True)
        if status == 402:
            return _Failover("HTTP 402", quota=True)
        if status in (401, 403):
            return _Failover(f"HTTP {status}", quota=False)
        if status == 429 or status >= 500 or status in (408, 409):
            label = f"HTTP {status}" + (" rate limited" if status == 429 else "")
            return _Retry(label, retry_after=_retry_after(exc.response.headers), status=status)
        what = f"model {model!r}" if model else "the request"
        if status == 404:
            hint = "set LLM_MODEL_PRIMARY / LLM_MODEL_FALLBACK to a model the service offers"
            if model is None:
                hint = "check OPENAI_BASE_URL (it usually ends in /v1)"
            return _Fatal(ModelError, f"{what} not found at {self._where} (HTTP 404): {hint}")
        if "context_length" in code:
            return _Fatal(ModelError, f"the prompt is longer than {what} accepts (HTTP {status} {code})")
        body = exc.body  # the parsed "error" object of the response, when it was JSON
        detail = self._scrub(str(body.get("message") or "")) if isinstance(body, dict) else ""
        return _Fatal(ModelError, f"the service rejected {what} (HTTP {status}{', ' + code if code else ''})"
                      + (f": {detail}" if detail else ""))  # fmt: skip

    # ---------------------------------------------------------------------------------- answers
    def _completion(self, req: ChatRequest, raw: Any, alias: str, attempts: int, started: float) -> Completion | _Retry:
        """The Completion in an SDK response, or a retry when the body was not a chat completion.

        The SDK builds response objects without validating them, so every field is read defensively.
        """
        choices = getattr(raw, "choices", None)
        if not isinstance(choices, list) or not choices:
            return _Retry("malformed response (no choices)", malformed=True)
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        refusal = getattr(message, "refusal", None)
        finish = getattr(choices[0], "finish_reason", None)
        usage = getattr(raw, "usage", None)
        text = content if isinstance(content, str) else ""
        prompt_tokens = _int(getattr(usage, "prompt_tokens", None))
        if prompt_tokens is None:  # a server without usage: bill the conservative estimate
            prompt_tokens = estimate_tokens(req.system + req.user)
        completion_tokens = _int(getattr(usage, "completion_tokens", None))
        if completion_tokens is None:
            completion_tokens = estimate_tokens(text or (refusal if isinstance(refusal, str) else ""))
        cached = _int(getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)) or 0
        served_by = getattr(raw, "model", None)
        completion = Completion(
            content=text,
            model=served_by if isinstance(served_by, str) and served_by else req.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=min(cached, prompt_tokens),
            finish_reason=str(finish or "stop"),
            key_alias=alias,
            attempts=attempts,
            latency=time.monotonic() - started,
        )
        if refusal:
            raise UnusableAnswerError(f"model refused: {self._scrub(str(refusal)) or 'no reason given'}", completion)
        if finish == "length":
            raise UnusableAnswerError(f"answer truncated at max_tokens ({req.max_tokens})", completion)
        if finish == "content_filter":
            raise UnusableAnswerError("answer blocked by the provider's content filter", completion)
        if finish not in (None, "stop"):
            raise UnusableAnswerError(f"unexpected finish_reason {self._scrub(str(finish))!r}", completion)
        if not text.strip():
            raise UnusableAnswerError("empty answer", completion)
        return completion

    # ---------------------------------------------------------------------------------- helpers
    def _client(self, alias: str, key: Secret) -> OpenAI:
        with self._lock:
            client = self._clients.get(alias)
            if client is None:
                from openai import OpenAI

                client = OpenAI(
                    api_key=key.reveal(),
                    base_url=self._settings.base_url,
                    timeout=self._settings.timeout,
                    max_retries=0,  # our loop retries: the SDK would retry quota errors (RELIABILITY.md §0.4)
                    http_client=self._http_client,
                )
                self._clients[alias] = client
            return client

    def _no_usable_key(self, failures: Mapping[str, tuple[str, bool]]) -> ProviderError | NoKeyError:
        """The error for "no key left": NoKeyError, AuthError or QuotaError. Remembered for the run, so
        later calls fail the same way without a request."""
        configured = self._keys.configured
        if not configured:
            return NoKeyError(NO_KEY_MESSAGE)
        with self._lock:
            if not failures:
                cls, message = self._exhausted or (
                    AuthError,
                    "every configured key was rejected earlier in this run",
                )
                return cls(message)
            reasons = sorted({reason for reason, _ in failures.values()})
            if not any(quota for _, quota in failures.values()):
                cls = AuthError
                if len(failures) > 1:
                    message = f"both configured keys were rejected ({', '.join(reasons)})"
                else:
                    alias = next(iter(failures))
                    message = f"the {alias} key was rejected ({reasons[0]}): set a valid {ENV_VARS[alias]}"
            else:
                cls = QuotaError
                if all(quota for _, quota in failures.values()) and len(failures) > 1:
                    message = (
                        f"both configured keys are out of quota ({', '.join(reasons)}): "
                        "add credit or raise the spend limit"
                    )
                elif len(failures) > 1:
                    detail = "; ".join(f"{a}: {r}" for a, (r, _) in sorted(failures.items()))
                    message = f"no usable API key left ({detail})"
                else:
                    alias = next(iter(failures))
                    message = (
                        f"the {alias} key is out of quota ({reasons[0]}): add credit, raise the spend limit "
                        f"or configure another key"
                    )
            self._exhausted = (cls, message)
            return cls(message)

    def _scrub(self, text: str, limit: int = 200) -> str:
        """Untrusted server text made safe for a one-line error: no control characters, nothing that
        looks like a key (configured keys, sk-…, bearer tokens), at most `limit` characters."""
        for secret in (self._settings.api_key_primary, self._settings.api_key_secondary):
            if secret is not None and secret.reveal():
                text = text.replace(secret.reveal(), secret.masked())
        text = _KEYLIKE.sub("[redacted]", _CONTROL.sub(" ", text))
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


def _gave_up(tries: int, last: _Retry | None, why: str | None) -> ServiceUnavailableError:
    """ "service unavailable after 3 tries (HTTP 503)", optionally followed by why we stopped early."""
    text = "service unavailable"
    if last is not None:
        text += f" after {tries} {'try' if tries == 1 else 'tries'} ({last.problem})"
    if why:
        text += f": {why}"
    return ServiceUnavailableError(text, last.status if last is not None else None)


def _describe(outcome: _Outcome) -> str:
    if isinstance(outcome, _Retry):
        return f"retryable: {outcome.problem}"
    if isinstance(outcome, _Failover):
        return f"key refused: {outcome.reason}"
    return f"final: {outcome.error.__name__}"


def _origin(base_url: str | None) -> str:
    """scheme://host[:port] of the service, without credentials or path: safe to print."""
    if not base_url:
        return "api.openai.com"
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _root_os_error(exc: BaseException) -> BaseException | None:
    """The innermost OSError under an SDK connection error (httpx2 -> httpcore2 -> socket)."""
    found: BaseException | None = None
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError):
            found = cur
        cur = cur.__cause__ or cur.__context__
    return found


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asks us to wait: retry-after-ms, else Retry-After (seconds or HTTP date)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / scale
        except ValueError:
            if name == "retry-after":
                parsed = email.utils.parsedate_tz(raw)
                if parsed is not None:
                    return max(0.0, email.utils.mktime_tz(parsed) - time.time())
            continue
        if not math.isnan(value) and value >= 0:
            return value
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(value, 0)
    try:
        return max(int(str(value)), 0) if value is not None else None
    except ValueError:
        return None
