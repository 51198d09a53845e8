"""RemoteProvider: the Provider protocol over HTTP, answered by a symphony-assist server (issue #7).

With `SYMPHONY_ASSIST_SERVER_URL` (pyproject `server_url`) set, the command, the hooks and
`pytest --assist` send their chat requests to `POST <server>/assistant/complete` instead of to OpenAI:
the server holds the keys, the team's budget and its own cache; this machine keeps its own cache (a
hit never reaches this module) and its own ledger. No OpenAI key is needed here.

Stdlib only (`http.client`, imported on the first call): this module is imported on the miss path,
never on a cache hit. One connection per call; the bearer token (`SYMPHONY_ASSIST_SERVER_TOKEN`) is
sent when configured and appears in no message.

| what happens                                          | raised                                        |
|-------------------------------------------------------|-----------------------------------------------|
| connection refused, host not resolvable               | UnavailableError at once (the run falls back) |
| timeout, dropped connection, 5xx without a reason,    | retried (full-jitter backoff or Retry-After,  |
| 429 rate_limited, malformed body                      | 3 tries, never past the deadline), then       |
|                                                       | UnavailableError / BadAnswerError             |
| 401 / 403 (token missing or wrong, Host/Origin check) | AuthError                                     |
| 402, or 429 budget_exceeded: the server's budget      | RemoteBudgetError: a BudgetError (exit 5) the |
|                                                       | pipeline stops on and falls back from, as it  |
|                                                       | does for a local ledger refusal               |
| the server's own upstream faults (upstream_auth,      | AuthError, QuotaError, ModelError (the        |
| upstream_quota, model_error, bad_answer, no_key,      | pipeline tries the fallback model),           |
| upstream_unavailable)                                 | BadAnswerError, NoKeyError, UnavailableError  |
| anything else (404, 413, 415, 422, ...)               | UnavailableError (a server of another version)|

Every call tells the server how long this run will still wait (`X-Symphony-Assist-Deadline`, seconds),
so the server never works for a client that has given up.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ... import __version__
from ...config import Settings
from ...errors import (
    AuthError,
    BadAnswerError,
    BudgetError,
    ModelError,
    NoKeyError,
    ProviderError,
    QuotaError,
    UnavailableError,
)
from .faults import ServiceUnavailableError
from .openai import ChatRequest, Completion

__all__ = ["COMPLETE_PATH", "DEADLINE_HEADER", "MODELS_PATH", "RemoteBudgetError", "RemoteProvider"]

COMPLETE_PATH = "/assistant/complete"
MODELS_PATH = "/assistant/models"
DEADLINE_HEADER = "X-Symphony-Assist-Deadline"
MAX_ATTEMPTS = 3
BACKOFF_BASE = 0.25  # seconds, doubled per retry, full jitter
BACKOFF_CAP = 4.0
CONNECT_TIMEOUT = 5.0
MAX_RESPONSE_BYTES = 8 << 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_KEYLIKE = re.compile(r"(?i)\b(?:bearer\s+\S+|sk-[\w\-*.]{4,})")
_FINAL_ERRORS: dict[str, type[ProviderError]] = {
    "upstream_auth": AuthError,
    "upstream_quota": QuotaError,
    "model_error": ModelError,
    "bad_answer": BadAnswerError,
}


class RemoteBudgetError(BudgetError, UnavailableError):
    """The server's budget refused the call. A BudgetError (the CLI exits 5); also an UnavailableError
    so the pipeline stops asking for this run and falls back locally, exactly as after a refusal by
    this machine's own ledger (fail open: a hook never blocks a commit over it)."""


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class _Transient:
    problem: str
    retry_after: float | None = None
    status: int | None = None
    malformed: bool = False


class RemoteProvider:
    """A Provider answered by a symphony-assist server at `settings.server_url`. Thread-safe."""

    name: str = "remote"

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.server_url:
            raise ValueError("RemoteProvider needs settings.server_url")
        parts = urlsplit(settings.server_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("server_url must be an http:// or https:// URL")
        self._settings = settings
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.where = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        self._sleep = sleep
        self._random = random.Random()  # noqa: S311 - backoff jitter, not cryptography

    # ---------------------------------------------------------------------------------- Provider
    def complete(self, req: ChatRequest, *, deadline: float) -> Completion:
        """Ask the server; see the module table for what is raised."""
        started = time.monotonic()
        body = json.dumps(
            {
                "system": req.system,
                "user": req.user,
                "model": req.model,
                "temperature": req.temperature,
                "max_tokens": req.max_tokens,
                "json_schema": req.json_schema,
            },
            ensure_ascii=False,
        ).encode("utf-8", "surrogatepass")
        doc, attempts = self._call("POST", COMPLETE_PATH, body, deadline)
        try:
            return Completion(
                content=str(doc["content"]),
                model=str(doc.get("model") or req.model),
                prompt_tokens=_count(doc.get("prompt_tokens")),
                completion_tokens=_count(doc.get("completion_tokens")),
                cached_tokens=_count(doc.get("cached_tokens")),
                finish_reason=str(doc.get("finish_reason") or "stop"),
                key_alias="server:" + str(doc.get("key_alias") or "?"),
                attempts=attempts,
                latency=time.monotonic() - started,
            )
        except (KeyError, TypeError):
            pass
        raise BadAnswerError(f"the symphony-assist server at {self.where} sent an answer without content")

    def list_models(self, *, deadline: float) -> list[str]:
        """The models the server's service offers (`GET /assistant/models`)."""
        doc, _ = self._call("GET", MODELS_PATH, None, deadline)
        models = doc.get("models")
        if not models and doc.get("error"):
            raise ServiceUnavailableError(
                f"the symphony-assist server at {self.where} cannot list models: {self._scrub(str(doc['error']))}"
            )
        if not isinstance(models, list):
            raise BadAnswerError(f"the symphony-assist server at {self.where} sent no model list")
        return sorted({str(m) for m in models})

    def close(self) -> None:
        """Nothing to close: one connection per call."""

    # ---------------------------------------------------------------------------------- the loop
    def _call(self, method: str, path: str, body: bytes | None, deadline: float) -> tuple[dict[str, Any], int]:
        """(the JSON object answered, HTTP requests made) or raise. Errors are raised outside `except`
        blocks so they chain nothing that could hold the token."""
        attempts = 0
        last: _Transient | None = None
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._gave_up(attempts, last, "the deadline was reached")
                attempts += 1
                reply = self._attempt(method, path, body, left)
                outcome = self._judge(reply) if isinstance(reply, _Reply) else reply
                if isinstance(outcome, dict):
                    return outcome, attempts
                if isinstance(outcome, ProviderError | NoKeyError):
                    raise outcome
                last = outcome
                if attempts >= MAX_ATTEMPTS:
                    if outcome.malformed:
                        raise BadAnswerError(
                            f"the symphony-assist server at {self.where} sent {attempts} malformed responses"
                        )
                    raise self._gave_up(attempts, outcome, None)
                wait = outcome.retry_after
                if wait is None:
                    wait = self._random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1)))
                if wait >= deadline - time.monotonic():
                    raise self._gave_up(attempts, outcome, "no time left before the deadline")
                self._sleep(wait)
        except (ProviderError, NoKeyError) as exc:
            exc.attempts = attempts  # the run's summary counts failed tries too
            raise

    def _attempt(self, method: str, path: str, body: bytes | None, left: float) -> _Reply | _Transient | ProviderError:
        import http.client
        import socket

        timeout = min(self._settings.timeout, left)
        conn: http.client.HTTPConnection
        if self._scheme == "https":
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=min(CONNECT_TIMEOUT, timeout))
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=min(CONNECT_TIMEOUT, timeout))
        headers = {
            "Accept": "application/json",
            "User-Agent": f"symphony-assist/{__version__}",
            DEADLINE_HEADER: f"{left:.3f}",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        token = self._settings.server_token
        if token is not None:
            headers["Authorization"] = f"Bearer {token.reveal()}"
        try:
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            conn.request(method, self._prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read(MAX_RESPONSE_BYTES + 1)
            return _Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        except socket.gaierror:
            return ServiceUnavailableError(
                f"cannot reach the symphony-assist server at {self.where}: host not resolvable"
            )
        except ConnectionRefusedError:
            return ServiceUnavailableError(
                f"cannot reach the symphony-assist server at {self.where}: connection refused"
            )
        except TimeoutError:
            return _Transient(f"timed out after {timeout:.3g} s")
        except (OSError, http.client.HTTPException):
            return _Transient("connection failed")
        finally:
            conn.close()

    def _judge(self, reply: _Reply) -> dict[str, Any] | _Transient | ProviderError | NoKeyError:
        """A reply → its JSON object, a transient fault to retry, or the error to raise."""
        doc: Any = None
        if len(reply.body) <= MAX_RESPONSE_BYTES:
            try:
                doc = json.loads(reply.body)
            except ValueError:
                doc = None
        if reply.status == 200:
            return doc if isinstance(doc, dict) else _Transient("malformed response (invalid JSON)", malformed=True)
        err = doc.get("error") if isinstance(doc, dict) else None
        code = str(err.get("code") or "") if isinstance(err, dict) else ""
        reason = self._scrub(str(err.get("message") or "")) if isinstance(err, dict) else ""
        status = reply.status
        where = f"the symphony-assist server at {self.where}"
        if status == 402 or code == "budget_exceeded":
            reason = reason.removeprefix("budget: ") or "its budget is spent"
            return RemoteBudgetError(f"budget ({where}): {reason}")
        if status == 401:
            if self._settings.server_token is None:
                return AuthError(f"{where} requires a token: set SYMPHONY_ASSIST_SERVER_TOKEN")
            return AuthError(f"{where} rejected the token in SYMPHONY_ASSIST_SERVER_TOKEN (HTTP 401)")
        if status == 403:
            return AuthError(f"{where} refused the request (HTTP 403)" + (f": {reason}" if reason else ""))
        if code == "no_key":
            return NoKeyError(f"{where} has no API key configured: {reason or 'set OPENAI_API_KEY on the server'}")
        if code in _FINAL_ERRORS:
            return _FINAL_ERRORS[code](f"{where}: {reason or code}")
        if code == "upstream_unavailable":
            upstream = err.get("upstream_status") if isinstance(err, dict) else None
            return ServiceUnavailableError(
                f"{where}: {reason or 'service unavailable'}", upstream if isinstance(upstream, int) else None
            )
        if status == 429 or status >= 500:
            label = f"HTTP {status}" + (" rate limited" if status == 429 else "")
            return _Transient(label, _retry_after(reply.headers), status)
        return ServiceUnavailableError(f"{where} cannot answer (HTTP {status}{', ' + code if code else ''})")

    def _gave_up(self, tries: int, last: _Transient | None, why: str | None) -> ServiceUnavailableError:
        text = f"the symphony-assist server at {self.where} is unavailable"
        if last is not None:
            text += f" after {tries} {'try' if tries == 1 else 'tries'} ({last.problem})"
        if why:
            text += f": {why}"
        return ServiceUnavailableError(text, last.status if last is not None else None)

    def _scrub(self, text: str, limit: int = 200) -> str:
        """Server text made safe for one line: no control characters, no token, nothing key-like."""
        token = self._settings.server_token
        if token is not None and token.reveal():
            text = text.replace(token.reveal(), "[redacted]")
        text = " ".join(_KEYLIKE.sub("[redacted]", _CONTROL.sub(" ", text)).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after")
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value < 3600 else None


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not a token count")
    return max(value, 0)
