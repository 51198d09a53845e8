"""What a request costs: prices per model, token estimates before sending, integer micro-dollars.

Stdlib only at import time. Prices come from the user's `[tool.symphony-assist.prices]` table first,
then from the snapshot bundled with genai-prices (imported lazily, only for a model not seen yet in
this process; it never touches the network unless asked to update, which we never do), else the
model is unknown and free (a local Ollama/vLLM server): `Price.known` is False and the caller prints
one notice.

Money is integer micro-dollars (1 USD = 1,000,000): a price in USD per million tokens is exactly
micro-dollars per token, so `cost_micro` is a sum of tokens x price, rounded up so that the budget
never under-counts. docs/reference.md#tokens-and-cost: gpt-4o-mini, 1000 prompt tokens of which 500 cached + 200
completion tokens = $0.0002325 = 232.5 -> 233 micro-dollars.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

__all__ = ["Price", "cost_micro", "estimate_tokens", "price_for", "worst_case_micro"]

# Chars per token: docs/reference.md#tokens-and-cost measured 2.42 on a number-dense diff (chars/4 under-counts it by
# 40 %) and 4.31 on ordinary code. 2.4 = 12/5 keeps the pre-flight estimate on the safe side for both.
_TOKENS_PER_12_CHARS = 5

# "gpt-4o-mini-2024-07-18" -> "gpt-4o-mini"; "gpt-4-0613" -> "gpt-4"
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


def estimate_tokens(text: str) -> int:
    """A conservative token count for `text`: ceil(len(text) / 2.4). Used before sending only;
    accounting uses the usage the service reports."""
    return -(-len(text) * _TOKENS_PER_12_CHARS // 12)  # exact integer ceil(len * 5 / 12)


@dataclass(frozen=True)
class Price:
    """USD per million tokens: `input` (uncached prompt), `output` (completion), `cached` (cached prompt).

    `known` is False when no price was found: the model is then treated as free.
    """

    input: float
    output: float
    cached: float
    known: bool = True


UNKNOWN = Price(0.0, 0.0, 0.0, known=False)


def _candidates(model: str) -> list[str]:
    """The names to look `model` up under, most specific first (date suffix and "openai/" stripped)."""
    names = [model]
    bare = model.removeprefix("openai/")
    for name in (bare, _DATE_SUFFIX.sub("", bare)):
        if name not in names:
            names.append(name)
    return names


def price_for(model: str, overrides: Mapping[str, Mapping[str, float]]) -> Price:
    """The price of `model`: `overrides` (Settings.prices) first, then genai-prices' bundled snapshot.

    `overrides` entries hold `input` and `output` and optionally `cached` (defaults to `input`), in USD
    per million tokens. An override never lowers a price the snapshot knows (the trust boundary).
    Returns `Price(0, 0, 0, known=False)` for a model found nowhere. Lookups in the snapshot are memoised
    per process.
    """
    for name in _candidates(model):
        entry = overrides.get(name)
        if entry is not None:
            given = Price(float(entry["input"]), float(entry["output"]), float(entry.get("cached", entry["input"])))
            known = _bundled_price(model)
            if not known.known:
                return given
            # The table comes from a pyproject.toml, which may be the reviewed repository's: it may raise a
            # known price (a gateway's surcharge), never lower it, or a repository could zero the budget.
            return Price(
                max(given.input, known.input), max(given.output, known.output), max(given.cached, known.cached)
            )
    return _bundled_price(model)


@lru_cache(maxsize=128)
def _bundled_price(model: str) -> Price:
    from datetime import UTC, datetime

    from genai_prices import data_snapshot  # ~200 ms with its data: the miss path only

    snapshot = data_snapshot.get_snapshot()
    for name in _candidates(model):
        try:
            _, info = snapshot.find_provider_model(name, None, "openai", None)
        except LookupError:
            continue
        prices = info.get_prices(datetime.now(tz=UTC))
        per_m_in = _base(getattr(prices, "input_mtok", None))
        per_m_out = _base(getattr(prices, "output_mtok", None))
        if per_m_in is None or per_m_out is None:
            continue
        cached = _base(getattr(prices, "cache_read_mtok", None))
        return Price(per_m_in, per_m_out, per_m_in if cached is None else cached)
    return UNKNOWN


def _base(value: object) -> float | None:
    """A genai-prices price as a float: a plain Decimal, or the base rate of tiered prices (the tiers
    start at context sizes far above what one review request sends)."""
    if value is None:
        return None
    base = getattr(value, "base", value)
    try:
        return float(base)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))  # the decimal the user wrote (0.15), not the binary float's expansion


def cost_micro(price: Price, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> int:
    """What a call cost, in micro-dollars, rounded up.

    `cached_tokens` are a subset of `prompt_tokens` (docs/reference.md#tokens-and-cost): they are billed at
    `price.cached` and the rest of the prompt at `price.input`. Negative counts count as 0 and cached
    tokens beyond the prompt are capped at it.
    """
    prompt = max(prompt_tokens, 0)
    cached = min(max(cached_tokens, 0), prompt)
    completion = max(completion_tokens, 0)
    total = (prompt - cached) * _dec(price.input) + cached * _dec(price.cached) + completion * _dec(price.output)
    return math.ceil(total)


def worst_case_micro(price: Price, prompt: str | int, max_tokens: int) -> int:
    """The most a call can cost: the prompt (text, estimated conservatively, or a token count) billed
    uncached plus `max_tokens` completion tokens. What the budget reserves before sending."""
    prompt_tokens = estimate_tokens(prompt) if isinstance(prompt, str) else prompt
    return cost_micro(price, prompt_tokens, max_tokens, 0)
