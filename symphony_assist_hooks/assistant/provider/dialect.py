"""How a structured answer is asked of one endpoint and model: the response-format *dialect*.

OpenAI-compatible servers differ in what `response_format` they accept:

| dialect       | what is sent                                              | who needs it                      |
|---------------|-----------------------------------------------------------|-----------------------------------|
| `json_schema` | `{"type": "json_schema", "json_schema": {...}}` (strict)  | OpenAI, vLLM, Ollama, llama-server |
| `json_object` | `{"type": "json_object", "schema": {...}}` + the schema   | llama-cpp-python (its grammar uses |
|               | in the system prompt                                      | `schema`), older Ollama            |
| `text`        | no `response_format`; the schema in the system prompt     | servers that know neither          |

Every request starts with the dialect remembered for its endpoint and model (else the configured one,
`json_schema` by default). A server that rejects the dialect (HTTP 400, 422 or 500 whose body names
`response_format`, as llama-cpp-python's 500 "Input should be 'text' or 'json_object'" does) is asked
again at once in the next dialect: that is a capability answer, not a fault, so it is never retried as
a 5xx and never sends the run to the fallback model. What worked is remembered in a small JSON file in
the cache dir for `REMEMBER_FOR` seconds, so discovery costs one failed request once, not every run.
A server that accepts `json_schema` but answers without any JSON object (it ignored the format) is
remembered as `text`, so the next request carries the schema in its prompt.

Answers are read tolerantly (`first_json_object`): the first JSON object in the text, so a model that
wraps its JSON in prose or a code fence still answers. Stdlib only; the SDK is never imported here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DIALECTS",
    "FILE_NAME",
    "REMEMBER_FOR",
    "DialectMemory",
    "Negotiator",
    "error_text",
    "first_json_object",
    "instructions",
    "is_capability_error",
    "response_format",
]

log = logging.getLogger(__name__)

DIALECTS = ("json_schema", "json_object", "text")  # most to least structured: the order of downgrades
FILE_NAME = "dialects.json"
REMEMBER_FOR = 7 * 86400.0  # seconds: a server upgrade is noticed within a week
_FILE_VERSION = 1
_MAX_ENTRIES = 256
_MAX_SCANS = 64  # '{' positions tried by first_json_object: bounded work on hostile text
_CAPABILITY_STATUSES = frozenset({400, 422, 500})
_CAPABILITY_MARKERS = ("response_format", "json_schema", "'json_object'")


# ------------------------------------------------------------------------------------ one request
def response_format(dialect: str, spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The `response_format` parameter for `dialect` (None: send none). `spec` = {"name", "strict", "schema", ...}."""
    if dialect == "json_schema":
        return {"type": "json_schema", "json_schema": dict(spec)}
    if dialect == "json_object":
        return {"type": "json_object", "schema": spec["schema"]}
    return None


def instructions(dialect: str, schema: Mapping[str, Any]) -> str:
    """What the system prompt gains in `dialect`: nothing for json_schema (the server enforces it)."""
    if dialect == "json_schema":
        return ""
    compact = json.dumps(schema, separators=(",", ":"), sort_keys=False)
    return (
        "\n\nReply with one JSON object and nothing else (no prose, no code fence). "
        f"It must match this JSON Schema:\n{compact}"
    )


def is_capability_error(status: int, body: str) -> bool:
    """True when an HTTP error says the server does not accept the response format we sent."""
    return status in _CAPABILITY_STATUSES and any(marker in body for marker in _CAPABILITY_MARKERS)


def error_text(exc: Any) -> str:
    """An SDK status error's message and raw body, for matching only (untrusted: never printed)."""
    parts = [str(getattr(exc, "message", "") or ""), json.dumps(getattr(exc, "body", None), default=str)]
    with contextlib.suppress(Exception):  # a body that cannot be read leaves the message to match on
        parts.append(str(exc.response.text)[:4000])
    return "\n".join(parts)


def first_json_object(text: str) -> str | None:
    """The first JSON object in `text` (the whole text when it is one), or None.

    Tolerates prose or a code fence around the object. At most `_MAX_SCANS` start positions are tried,
    so a hostile answer full of braces costs bounded work.
    """
    stripped = text.strip()
    with contextlib.suppress(ValueError):
        if isinstance(json.loads(stripped), dict):
            return stripped
    decoder = json.JSONDecoder()
    start = text.find("{")
    for _ in range(_MAX_SCANS):
        if start < 0:
            break
        try:
            doc, end = decoder.raw_decode(text, start)
        except ValueError:
            pass
        else:
            if isinstance(doc, dict):
                return text[start:end]
        start = text.find("{", start + 1)
    return None


# ------------------------------------------------------------------------------------ memory
class DialectMemory:
    """What worked per (endpoint, model), in a small JSON file (`path`; None: this process only).

    Entries expire after `ttl` seconds. A damaged or foreign file is ignored and rewritten; a write
    that fails (read-only cache dir) only loses the memory, never the answer. Thread-safe.
    """

    def __init__(self, path: Path | None, *, ttl: float = REMEMBER_FOR, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._local: dict[str, tuple[str, float]] = {}

    @staticmethod
    def _key(endpoint: str, model: str) -> str:
        return f"{endpoint} {model}"

    def recall(self, endpoint: str, model: str) -> str | None:
        """The dialect that last worked for `model` at `endpoint`, if not expired."""
        key = self._key(endpoint, model)
        now = self._clock()
        with self._lock:
            entry = self._local.get(key)
            if entry is None:
                entry = self._read().get(key)
                if entry is not None:
                    self._local[key] = entry
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def learn(self, endpoint: str, model: str, dialect: str) -> None:
        """Remember `dialect` for `model` at `endpoint` for the next `ttl` seconds."""
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}")
        key = self._key(endpoint, model)
        now = self._clock()
        with self._lock:
            self._local[key] = (dialect, now + self._ttl)
            if self._path is None:
                return
            entries = {k: v for k, v in self._read().items() if v[1] > now}
            entries[key] = (dialect, now + self._ttl)
            if len(entries) > _MAX_ENTRIES:  # keep the freshest
                entries = dict(sorted(entries.items(), key=lambda kv: kv[1][1])[-_MAX_ENTRIES:])
            self._write(entries)

    def _read(self) -> dict[str, tuple[str, float]]:
        if self._path is None:
            return {}
        try:
            doc = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        raw = doc.get("entries") if isinstance(doc, dict) and doc.get("version") == _FILE_VERSION else None
        out: dict[str, tuple[str, float]] = {}
        for key, value in (raw or {}).items() if isinstance(raw, dict) else ():
            if not isinstance(value, dict):
                continue
            dialect, until = value.get("dialect"), value.get("until")
            if dialect in DIALECTS and isinstance(until, int | float) and not isinstance(until, bool):
                out[str(key)] = (str(dialect), float(until))
        return out

    def _write(self, entries: Mapping[str, tuple[str, float]]) -> None:
        assert self._path is not None
        doc = {
            "version": _FILE_VERSION,
            "entries": {k: {"dialect": d, "until": round(u, 3)} for k, (d, u) in entries.items()},
        }
        folder = self._path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".dialects-", dir=folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(doc, fh, indent=1, sort_keys=True)
                os.replace(tmp, self._path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            return  # a read-only cache dir: the dialect is rediscovered next run, nothing worse


# ------------------------------------------------------------------------------------ negotiation
class Negotiator:
    """Chooses the dialect for each request to one endpoint and learns from the server's answers.

    `preferred` is the configured starting dialect ("auto": what the memory says, else json_schema).
    """

    def __init__(self, endpoint: str, memory: DialectMemory, preferred: str = "auto") -> None:
        self.endpoint = endpoint
        self._memory = memory
        self._preferred = preferred

    def first(self, model: str) -> str:
        """The dialect to try first for `model`."""
        if self._preferred in DIALECTS:
            return self._preferred
        return self._memory.recall(self.endpoint, model) or DIALECTS[0]

    def ask(
        self,
        create: Callable[[dict[str, Any]], Any],
        params: Mapping[str, Any],
        spec: Mapping[str, Any],
        model: str,
        *,
        refused: type[Exception],
    ) -> tuple[Any, str]:
        """Send `params` (system and user messages, model, sampling) asking for `spec`'s schema, in the
        first dialect for `model` and, while the server refuses the format, in the next ones.

        `create(body)` makes one HTTP request; `refused` is the SDK's status-error class. Returns the raw
        response and the dialect it was given in; any other error propagates to the caller's fault handling.
        """
        system, user = params["messages"][0], params["messages"][1]
        dialect = self.first(model)
        while True:
            framed = {**system, "content": system["content"] + instructions(dialect, spec["schema"])}
            body = {**params, "messages": [framed, user]}
            fmt = response_format(dialect, spec)
            if fmt is not None:
                body["response_format"] = fmt
            try:
                return create(body), dialect
            except refused as exc:  # a capability refusal is answered in the next dialect, at once
                following = self.rejected(model, dialect, int(getattr(exc, "status_code", 0)), error_text(exc))
                if following is None:
                    raise
                log.debug("%s: %s refused for %s; asking in %s", self.endpoint, dialect, model, following)
                dialect = following

    def rejected(self, model: str, dialect: str, status: int, body: str) -> str | None:
        """The dialect to ask in next when `dialect` got HTTP `status` with `body`; None: a real fault.

        A capability rejection is remembered, so the next run starts with the dialect that follows.
        """
        if not is_capability_error(status, body) or dialect not in DIALECTS or dialect == DIALECTS[-1]:
            return None
        following = DIALECTS[DIALECTS.index(dialect) + 1]
        self._memory.learn(self.endpoint, model, following)
        return following

    def answered(self, model: str, dialect: str, content: str | None) -> str | None:
        """Note an answer given in `dialect`; the JSON object to read from `content`, or None if it has none.

        An answer with no JSON object at all under json_schema means the server ignored the format:
        the schema goes into the prompt from the next request on (remembered as `text`).
        """
        found = first_json_object(content) if content else None
        if found is None and dialect == "json_schema" and content:
            self._memory.learn(self.endpoint, model, DIALECTS[-1])
        return found
