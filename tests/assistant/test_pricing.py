"""Prices, cost arithmetic and token estimates (all offline: genai-prices' bundled snapshot)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from symphony_assist_hooks.assistant.pricing import (
    Price,
    cost_micro,
    estimate_tokens,
    price_for,
    worst_case_micro,
)


def test_conventions_7_1_example_gpt_4o_mini() -> None:
    """docs/reference.md#tokens-and-cost: 1000 prompt tokens (500 cached) + 200 completion = $0.0002325."""
    price = price_for("gpt-4o-mini", {})
    assert price == Price(0.15, 0.6, 0.075, known=True)
    assert cost_micro(price, 1000, 200, 500) == 233  # 232.5 micro-dollars, rounded up
    assert cost_micro(price, 1000, 200, 0) == 270  # $0.00027 without caching


def test_cost_matches_genai_prices_calc_price() -> None:
    from genai_prices import Usage, calc_price

    for model in ("gpt-4o-mini", "gpt-4o", "gpt-4.1"):
        exact = calc_price(
            Usage(input_tokens=12_345, output_tokens=678, cache_read_tokens=1_024), model, provider_id="openai"
        ).total_price
        assert cost_micro(price_for(model, {}), 12_345, 678, 1_024) == math.ceil(exact * Decimal(1_000_000))


def test_dated_and_prefixed_model_names_resolve() -> None:
    base = price_for("gpt-4o-mini", {})
    assert price_for("gpt-4o-mini-2024-07-18", {}) == base
    assert price_for("openai/gpt-4o-mini", {}) == base


def test_overrides_come_first_and_cached_defaults_to_input() -> None:
    overrides = {
        "gpt-4o-mini": {"input": 1.0, "output": 2.0, "cached": 0.5},
        "llama3.1:8b": {"input": 0.3, "output": 0.4},
    }
    assert price_for("gpt-4o-mini", overrides) == Price(1.0, 2.0, 0.5)
    assert price_for("gpt-4o-mini-2024-07-18", overrides) == Price(1.0, 2.0, 0.5)
    assert price_for("llama3.1:8b", overrides) == Price(0.3, 0.4, 0.3)


def test_an_override_never_lowers_a_known_price() -> None:
    """The prices table may be a reviewed repository's: zeroing gpt-4o's price must not zero the budget."""
    known = price_for("gpt-4o", {})
    assert known.input > 0
    zero = {"gpt-4o": {"input": 0.0, "output": 0.0, "cached": 0.0}}
    assert price_for("gpt-4o", zero) == known
    assert price_for("gpt-4o-2024-08-06", zero) == price_for("gpt-4o-2024-08-06", {})
    mixed = {"gpt-4o": {"input": 100.0, "output": 0.0}}
    assert price_for("gpt-4o", mixed) == Price(100.0, known.output, 100.0)


def test_unknown_model_is_free_and_flagged() -> None:
    price = price_for("llama3.1:8b", {})
    assert price == Price(0.0, 0.0, 0.0, known=False)
    assert cost_micro(price, 10_000, 10_000, 0) == 0


@pytest.mark.parametrize(
    ("chars", "tokens"),
    [(0, 0), (1, 1), (12, 5), (13, 6), (2400, 1000), (2401, 1001)],
)
def test_estimate_tokens_is_ceil_of_chars_over_2_4(chars: int, tokens: int) -> None:
    assert estimate_tokens("x" * chars) == tokens


def test_estimate_over_counts_a_dense_diff_compared_to_chars_over_4() -> None:
    """docs/reference.md#tokens-and-cost: 2.42 chars/token on dense diffs; the estimate must not under-count them."""
    text = "+    values = [1024, 2048, 4096, 8192]\n" * 100
    assert estimate_tokens(text) >= len(text) / 2.42


def test_rounding_is_up_and_exact_for_decimal_prices() -> None:
    price = Price(0.1, 0.2, 0.05)
    assert cost_micro(price, 10, 10, 0) == 3  # 1 + 2: no float noise pushing it to 4
    assert cost_micro(price, 1, 0, 0) == 1  # 0.1 micro-dollars still counts
    assert cost_micro(price, 0, 0, 0) == 0


def test_cached_tokens_are_a_capped_subset_of_the_prompt() -> None:
    price = Price(1.0, 1.0, 0.5)
    assert cost_micro(price, 100, 0, 100) == 50
    assert cost_micro(price, 100, 0, 500) == 50  # cannot cache more than was sent
    assert cost_micro(price, -5, -5, -5) == 0


def test_worst_case_takes_text_or_tokens_and_bills_uncached() -> None:
    price = Price(0.15, 0.6, 0.075)
    assert worst_case_micro(price, "x" * 2400, 800) == cost_micro(price, 1000, 800, 0) == 630
    assert worst_case_micro(price, 1000, 800) == 630
    assert worst_case_micro(price, 1000, 800) >= cost_micro(price, 1000, 800, 1000)
