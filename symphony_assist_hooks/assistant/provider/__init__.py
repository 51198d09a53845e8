"""Provider: one chat request in, one Completion out, or one ProviderError saying why not.

`OpenAIProvider` talks to OpenAI or any OpenAI-compatible server (`base_url`) through the official
SDK, imported lazily on the first call (`import openai` costs ~0.5 s: docs/reference.md#hit-path; importing
this module pulls in no openai, httpx2 or pydantic). The SDK's own retries are off (`max_retries=0`);
one loop here decides, per fault, whether to retry, fail over to the other key or give up: the table
is in faults.py (docs/reference.md#provider-faults). The records (`ChatRequest`, `Completion`) and the reading of an
answer are in openai.py (the wire format), the fault table in faults.py: import them from there.

Keys: the only place a key is revealed is the SDK client's constructor. Error messages name key
aliases ("primary"), never keys; no message text from the server or the SDK reaches an error except
a 4xx explanation scrubbed of anything key-like; our errors are raised outside `except` blocks so
they chain nothing (`__cause__` and `__context__` are None), as the SDK's exceptions hold the request
with its Authorization header and may quote the key (a 401 body does).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from ...config import Settings
from ...config.keys import Secret
from ...errors import AuthError, BadAnswerError, NoKeyError, ProviderError, QuotaError
from ...logsafe import inert_line
from ..endpoint import endpoint_of
from .dialect import FILE_NAME, DialectMemory, Negotiator
from .faults import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    MAX_ATTEMPTS,
    Failover,
    Fatal,
    Ok,
    Outcome,
    Retry,
    ServiceUnavailableError,
    classify,
    describe,
    gave_up,
    origin,
    scrub,
)
from .keys import ENV_VARS, KeyRing
from .openai import ChatRequest, Completion, read_completion

if TYPE_CHECKING:
    import httpx2
    from openai import OpenAI

__all__ = ["NO_KEY_MESSAGE", "OpenAIProvider", "Provider"]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # seconds, as the SDK's default (docs/reference.md#formats)
NO_KEY_MESSAGE = "no API key configured: set OPENAI_API_KEY (or OPENAI_API_KEY_PRIMARY / OPENAI_API_KEY_SECONDARY)"

T = TypeVar("T")


class Provider(Protocol):
    """Something that answers chat requests. `deadline` is a `time.monotonic()` value: no call runs past it.

    `complete` raises NoKeyError, or a ProviderError subclass (AuthError, QuotaError, ModelError,
    BadAnswerError, UnavailableError) whose str() is one line safe to print.
    """

    name: str

    def complete(self, req: ChatRequest, *, deadline: float) -> Completion: ...

    def list_models(self, *, deadline: float) -> list[str]: ...


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
        clock: Callable[[], float] = time.monotonic,
        http_client: httpx2.Client | None = None,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._sleep = sleep
        self._clock = clock  # the deadline's clock; injected by tests so no test depends on the machine's speed
        self._http_client = http_client
        self._clients: dict[str, OpenAI] = {}
        self._lock = threading.Lock()
        self._exhausted: tuple[type[ProviderError], str] | None = None
        self._random = random.Random()  # noqa: S311 - backoff jitter, not cryptography
        self._where = origin(settings.base_url)
        # The official API wants max_completion_tokens (max_tokens is refused by reasoning models);
        # OpenAI-compatible servers (Ollama, vLLM, gateways) know max_tokens.
        official = settings.base_url is None or urlsplit(settings.base_url).hostname == "api.openai.com"
        self._max_tokens_param = "max_completion_tokens" if official else "max_tokens"
        remembered = None if settings.cache_backend == "memory" else settings.resolved_cache_dir / FILE_NAME
        self._dialects = Negotiator(endpoint_of(settings.base_url), DialectMemory(remembered), settings.response_format)

    # ---------------------------------------------------------------------------------- public API
    def complete(self, req: ChatRequest, *, deadline: float) -> Completion:
        """Ask `req`; return the Completion or raise (see the table in faults.py). Retries never pass `deadline`."""
        started = self._clock()
        params: dict[str, Any] = {
            "model": req.model,
            "messages": [{"role": "system", "content": req.system}, {"role": "user", "content": req.user}],
            "temperature": req.temperature,
            self._max_tokens_param: req.max_tokens,
        }
        if req.json_schema is None:

            def call(client: OpenAI, timeout: httpx2.Timeout) -> Any:
                return client.chat.completions.create(**params, timeout=timeout)

            def parse(raw: Any, alias: str, attempts: int) -> Completion | Retry:
                return read_completion(req, raw, alias, attempts, started, self._scrub, clock=self._clock)

            return self._run(call, parse, deadline=deadline, model=req.model)

        spec: dict[str, Any] = {
            "name": req.json_schema["name"],
            "strict": bool(req.json_schema.get("strict", True)),
            "schema": req.json_schema["schema"],
        }
        if req.json_schema.get("description"):
            spec["description"] = req.json_schema["description"]
        used: list[str] = []  # the dialect the answer was given in

        def call_structured(client: OpenAI, timeout: httpx2.Timeout) -> Any:
            import openai

            def create(body: dict[str, Any]) -> Any:
                return client.chat.completions.create(**body, timeout=timeout)

            raw, dialect = self._dialects.ask(create, params, spec, req.model, refused=openai.APIStatusError)
            used[:] = [dialect]
            return raw

        def parse_structured(raw: Any, alias: str, attempts: int) -> Completion | Retry:
            completion = read_completion(req, raw, alias, attempts, started, self._scrub, clock=self._clock)
            if isinstance(completion, Completion):
                found = self._dialects.answered(req.model, used[0] if used else "json_schema", completion.content)
                if found is not None and found != completion.content:
                    completion = dataclasses.replace(completion, content=found)
            return completion

        return self._run(call_structured, parse_structured, deadline=deadline, model=req.model)

    def list_models(self, *, deadline: float) -> list[str]:
        """The ids of the models the service offers, sorted. Same faults and failover as `complete`."""

        def call(client: OpenAI, timeout: httpx2.Timeout) -> Any:
            return client.models.list(timeout=timeout)

        def parse(raw: Any, alias: str, attempts: int) -> list[str] | Retry:
            data = getattr(raw, "data", None)
            if not isinstance(data, list):
                return Retry("malformed response (no model list)", malformed=True)
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
        parse: Callable[[Any, str, int], T | Retry],
        *,
        deadline: float,
        model: str | None,
    ) -> T:
        """Try `call` with the active key until it succeeds, a fault is final, or the deadline nears."""
        if self._keys.active() is None:  # fail before paying for the SDK import
            raise self._no_usable_key({})
        if deadline <= self._clock():
            raise gave_up(0, None, "the deadline was reached")
        import httpx2
        import openai  # the miss path only: ~0.5 s

        attempts = 0
        transient = 0  # tries that ended in a retryable fault
        last: Retry | None = None
        failures: dict[str, tuple[str, bool]] = {}  # alias -> (reason, is quota)
        try:
            while True:
                active = self._keys.active()
                if active is None:
                    raise self._no_usable_key(failures)
                alias, key = active
                left = deadline - self._clock()
                if left <= 0:
                    raise gave_up(transient, last, "the deadline was reached")
                timeout = min(self._settings.timeout, left)
                client = self._client(alias, key)
                attempts += 1
                # connect phase capped like the SDK's default: an unreachable host must not eat the read timeout
                limits = httpx2.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
                outcome: Ok[Any] | Outcome = self._attempt(openai, call, client, limits, model)
                if isinstance(outcome, Ok):
                    result = parse(outcome.value, alias, attempts)
                    if not isinstance(result, Retry):
                        return result
                    outcome = result
                log.debug("%s: %s key, attempt %d: %s", self._where, alias, attempts, inert_line(describe(outcome)))

                if isinstance(outcome, Fatal):
                    raise outcome.error(outcome.message)
                if isinstance(outcome, Failover):
                    failures[alias] = (outcome.reason, outcome.quota)
                    if self._keys.failover(failed=alias) is None:
                        raise self._no_usable_key(failures)
                    continue

                transient += 1
                last = outcome
                if transient >= MAX_ATTEMPTS:
                    if outcome.malformed:
                        raise BadAnswerError(f"the service sent {transient} malformed responses ({outcome.problem})")
                    raise gave_up(transient, outcome, None)
                left = deadline - self._clock()
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
                    raise gave_up(transient, outcome, "no time left before the deadline")
                self._sleep(wait)
        except (ProviderError, NoKeyError) as exc:
            exc.attempts = attempts  # the run's summary counts failed tries too
            raise

    def _attempt(
        self,
        openai: Any,
        call: Callable[[OpenAI, httpx2.Timeout], Any],
        client: OpenAI,
        timeout: httpx2.Timeout,
        model: str | None,
    ) -> Ok[Any] | Outcome:
        """One HTTP request. Every exception becomes an outcome here, so nothing raised later chains to
        an SDK exception (which holds the request, Authorization header included)."""
        try:
            return Ok(call(client, timeout))
        except Exception as exc:  # classified; KeyboardInterrupt and SystemExit pass through
            return classify(openai, exc, timeout.read or 0.0, model, where=self._where, scrub=self._scrub)

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
                    max_retries=0,  # our loop retries; the SDK retries quota errors (docs/reference.md#provider-faults)
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

    def _scrub(self, text: str) -> str:
        """Untrusted server text made safe for a one-line error (faults.scrub with the configured keys)."""
        return scrub(text, (self._settings.api_key_primary, self._settings.api_key_secondary))
