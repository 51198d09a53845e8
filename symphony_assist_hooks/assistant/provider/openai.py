"""One chat call's records: `ChatRequest` in, `Completion` out, and reading a Completion out of an
SDK response.

An answer the service billed for but that cannot be used (truncated, refused, filtered, empty) is an
`UnusableAnswerError` carrying its Completion, so the caller can still settle the budget. Stdlib
only: the SDK's response objects are read by attribute, never imported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import BadAnswerError
from ..pricing import estimate_tokens
from .faults import Retry

__all__ = ["ChatRequest", "Completion", "UnusableAnswerError", "read_completion"]


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


def read_completion(
    req: ChatRequest,
    raw: Any,
    alias: str,
    attempts: int,
    started: float,
    scrub: Callable[[str], str],
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Completion | Retry:
    """The Completion in an SDK response, or a retry when the body was not a chat completion.

    `latency` is `clock() - started`: `started` must come from the same clock (the provider's, injected by tests).

    The SDK builds response objects without validating them, so every field is read defensively.
    Raises UnusableAnswerError for a billed answer that cannot be used; `scrub` cleans server text.
    """
    choices = getattr(raw, "choices", None)
    if not isinstance(choices, list) or not choices:
        return Retry("malformed response (no choices)", malformed=True)
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
        latency=clock() - started,
    )
    if refusal:
        raise UnusableAnswerError(f"model refused: {scrub(str(refusal)) or 'no reason given'}", completion)
    if finish == "length":
        raise UnusableAnswerError(f"answer truncated at max_tokens ({req.max_tokens})", completion)
    if finish == "content_filter":
        raise UnusableAnswerError("answer blocked by the provider's content filter", completion)
    if finish not in (None, "stop"):
        raise UnusableAnswerError(f"unexpected finish_reason {scrub(str(finish))!r}", completion)
    if not text.strip():
        raise UnusableAnswerError("empty answer", completion)
    return completion


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(value, 0)
    try:
        return max(int(str(value)), 0) if value is not None else None
    except ValueError:
        return None
