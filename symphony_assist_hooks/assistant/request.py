"""What goes into the assistant and what comes out. Stdlib records: the hit path builds them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import FallbackReason

__all__ = ["Item", "ItemResult", "Options", "Request", "Response"]


@dataclass(frozen=True)
class Item:
    """One unit of work with its own cache entry: a hunk, a question, a failing test.

    `content` is untrusted and is redacted before it is hashed or sent; `label` (a path, a test id) is
    shown to the model next to the id and is part of the cache key.
    """

    id: str
    content: str
    label: str = ""


@dataclass(frozen=True)
class Request:
    """Ask `templates` about `items` through `frame` (findings | answer | explain).

    `plain=True` (one item, frame answer) asks for free text instead of a JSON document.
    """

    frame: str
    templates: tuple[str, ...]
    items: tuple[Item, ...]
    model: str | None = None  # None: the settings' default (Assistant.options), for this and the next two
    temperature: float | None = None
    max_tokens: int | None = None  # completion tokens per item
    use_cache: bool = True
    plain: bool = False

    @classmethod
    def question(
        cls,
        prompt: str,
        *,
        template: str = "general",
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        use_cache: bool = True,
    ) -> Request:
        """One free-text question (item "q1"), asked as a plain chat completion (no JSON framing)."""
        return cls(
            frame="answer",
            templates=(template,),
            items=(Item("q1", prompt),),
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            use_cache=use_cache,
            plain=True,
        )


@dataclass(frozen=True)
class Options:
    """The per-request options a request is answered with: its own, or the settings' defaults."""

    model: str
    temperature: float
    max_tokens: int  # completion tokens per item


@dataclass(frozen=True)
class ItemResult:
    """The answer for one (item, template). `data` is None when neither the cache nor the service
    answered; the caller's local fallback fills those in."""

    item_id: str
    template: str
    data: dict[str, Any] | None
    source: str  # api | cache | local | none
    model: str = ""


@dataclass
class Response:
    results: dict[tuple[str, str], ItemResult] = field(default_factory=dict)
    api_requests: int = 0  # requests answered (billed)
    failed_tries: int = 0  # HTTP requests tried that got no usable answer (retries, refused keys, outages)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_micro: int = 0
    saved_micro: int = 0
    cache_hits: int = 0
    redactions: int = 0
    dropped: int = 0  # items and findings of the model's answers that failed validation
    fallback_reason: FallbackReason | None = None
    models: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def usage(self) -> dict[str, Any]:
        """What a `findings.Report` says about this response: requests, tokens, money, fallback."""
        return {
            "cache_hits": self.cache_hits,
            "api_requests": self.api_requests,
            "failed_tries": self.failed_tries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "saved_usd": self.saved_usd,
            "redactions": self.redactions,
            "dropped": self.dropped,
            "fallback_reason": self.fallback_reason,
        }

    def get(self, item_id: str, template: str) -> ItemResult:
        return self.results[(item_id, template)]

    @property
    def cost_usd(self) -> float:
        return self.cost_micro / 1_000_000

    @property
    def saved_usd(self) -> float:
        return self.saved_micro / 1_000_000


MAX_COMPLETION_TOKENS = 16_000  # the most one request may ask the model to write
Pair = tuple[Item, str]  # an item and one template it is reviewed with
# What answers the pairs the model did not (given the reason): the caller's local analyzers.
Fallback = Callable[[Sequence[Pair], str], Mapping[tuple[str, str], dict[str, Any]]]
