"""What went wrong with one request to OpenAI, and what the provider does about it (docs/reference.md#provider-faults).

`classify` turns an SDK exception into one outcome: `Retry` (transient), `Failover` (the key was
refused), or `Fatal` (an error to raise now). The loop in provider.py acts on it:

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
| exceeded, billing_* (billing_hard_limit_reached,  | QuotaError                                         |
| billing_not_active…) (as error code or type),     |                                                    |
| HTTP 402                                          |                                                    |
| access_terminated, account_deactivated,           | the other key at once, no retry; none left ->      |
| organization_deactivated (any status)             | AuthError                                          |
| 404, 400 context_length_exceeded, other 4xx       | ModelError: the pipeline tries the fallback model  |
| finish_reason length / content_filter, refusal,   | UnusableAnswerError (a BadAnswerError carrying the |
| empty answer                                      | billed usage), no retry (chat.py)                  |

Every UnavailableError the provider raises is a ServiceUnavailableError whose `.status` is the HTTP
status of the last failed try (None for timeouts and connection failures): the pipeline tries the
fallback model after a 5xx and stops asking after anything else.

No text from the server reaches an error except through `scrub`; nothing here imports openai (the
caller passes the module in) or keeps an SDK exception.
"""

from __future__ import annotations

import email.utils
import errno
import json
import math
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from ...config.keys import Secret
from ...errors import ModelError, ProviderError, UnavailableError

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "MAX_ATTEMPTS",
    "Failover",
    "Fatal",
    "Ok",
    "Outcome",
    "Retry",
    "ServiceUnavailableError",
    "classify",
    "describe",
    "gave_up",
    "origin",
    "scrub",
]

MAX_ATTEMPTS = 3  # tries per call for transient faults (key failovers are not counted)
BACKOFF_BASE = 0.5  # seconds; doubled per retry, full jitter (same base and cap as the SDK)
BACKOFF_CAP = 8.0
# Quota, billing (billing_hard_limit_reached, billing_not_active, … : any billing_* code) and account
# refusals come as HTTP 429 too, but waiting does not fix them: never retried.
_QUOTA_CODES = frozenset({"insufficient_quota", "credit_balance_exhausted", "organization_usage_limit_exceeded"})
_ACCOUNT_CODES = frozenset({"access_terminated", "account_deactivated", "organization_deactivated"})
_KEYLIKE = re.compile(r"(?i)\b(?:bearer\s+\S+|sk-[\w\-*.]{4,})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

T = TypeVar("T")


class ServiceUnavailableError(UnavailableError):
    """An UnavailableError with the HTTP status of the last failed try (None: timeout, connection).

    The pipeline tries the fallback model after a 5xx, and stops asking after anything else (a
    refused connection, a rate limit that outlasts the deadline)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------- one attempt's outcome
@dataclass(frozen=True)
class Ok(Generic[T]):
    value: T


@dataclass(frozen=True)
class Retry:
    problem: str  # for the final message: "HTTP 503", "timed out after 30 s"
    retry_after: float | None = None
    malformed: bool = False
    status: int | None = None


@dataclass(frozen=True)
class Failover:
    reason: str  # "HTTP 401", "insufficient_quota"
    quota: bool


@dataclass(frozen=True)
class Fatal:
    error: type[ProviderError]
    message: str


Outcome = Retry | Failover | Fatal


# ---------------------------------------------------------------------------------- classification
def classify(
    openai: Any, exc: Exception, timeout: float, model: str | None, *, where: str, scrub: Callable[[str], str]
) -> Outcome:
    """The outcome of one SDK exception. `where` names the service (`origin`); `scrub` cleans server text."""
    if isinstance(exc, openai.APITimeoutError):
        return Retry(f"timed out after {timeout:.3g} s")
    if isinstance(exc, openai.APIConnectionError):
        cause = _root_os_error(exc)
        if isinstance(cause, socket.gaierror):
            return Fatal(ServiceUnavailableError, f"cannot reach {where}: host name not resolvable")
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            return Fatal(ServiceUnavailableError, f"cannot reach {where}: connection refused")
        return Retry("connection failed")
    if isinstance(exc, openai.APIStatusError):
        return _classify_status(exc, model, where, scrub)
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError | openai.APIResponseValidationError):
        return Retry("malformed response (invalid JSON)", malformed=True)  # docs/reference.md#provider-faults
    return Fatal(ProviderError, f"the OpenAI client failed ({type(exc).__name__})")


def _classify_status(exc: Any, model: str | None, where: str, scrub: Callable[[str], str]) -> Outcome:
    status = int(exc.status_code)
    code = str(exc.code or "")
    kind = str(exc.type or "")
    for value in (code, kind):
        if value in _QUOTA_CODES or value.startswith("billing_") or value.endswith("_spend_limit_exceeded"):
            return Failover(value, quota=True)
        if value in _ACCOUNT_CODES:
            return Failover(value, quota=False)
    if status == 402:
        return Failover("HTTP 402", quota=True)
    if status in (401, 403):
        return Failover(f"HTTP {status}", quota=False)
    if status == 429 or status >= 500 or status in (408, 409):
        label = f"HTTP {status}" + (" rate limited" if status == 429 else "")
        return Retry(label, retry_after=_retry_after(exc.response.headers), status=status)
    what = f"model {model!r}" if model else "the request"
    if status == 404:
        hint = "set LLM_MODEL_PRIMARY / LLM_MODEL_FALLBACK to a model the service offers"
        if model is None:
            hint = "check OPENAI_BASE_URL (it usually ends in /v1)"
        return Fatal(ModelError, f"{what} not found at {where} (HTTP 404): {hint}")
    if "context_length" in code:
        return Fatal(ModelError, f"the prompt is longer than {what} accepts (HTTP {status} {code})")
    body = exc.body  # the parsed "error" object of the response, when it was JSON
    detail = scrub(str(body.get("message") or "")) if isinstance(body, dict) else ""
    return Fatal(ModelError, f"the service rejected {what} (HTTP {status}{', ' + code if code else ''})"
                 + (f": {detail}" if detail else ""))  # fmt: skip


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


# ---------------------------------------------------------------------------------- safe words
def gave_up(tries: int, last: Retry | None, why: str | None) -> ServiceUnavailableError:
    """ "service unavailable after 3 tries (HTTP 503)", optionally followed by why we stopped early."""
    text = "service unavailable"
    if last is not None:
        text += f" after {tries} {'try' if tries == 1 else 'tries'} ({last.problem})"
    if why:
        text += f": {why}"
    return ServiceUnavailableError(text, last.status if last is not None else None)


def describe(outcome: Outcome) -> str:
    if isinstance(outcome, Retry):
        return f"retryable: {outcome.problem}"
    if isinstance(outcome, Failover):
        return f"key refused: {outcome.reason}"
    return f"final: {outcome.error.__name__}"


def origin(base_url: str | None) -> str:
    """scheme://host[:port] of the service, without credentials or path: safe to print."""
    if not base_url:
        return "api.openai.com"
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def scrub(text: str, secrets: Iterable[Secret | None], limit: int = 200) -> str:
    """Untrusted server text made safe for a one-line error: no control characters, nothing that
    looks like a key (`secrets`, sk-…, bearer tokens), at most `limit` characters."""
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = text.replace(secret.reveal(), secret.masked())
    text = _KEYLIKE.sub("[redacted]", _CONTROL.sub(" ", text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
