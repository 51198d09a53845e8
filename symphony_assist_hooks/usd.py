"""Amounts in USD as a person types them: the one parser behind every place a spending cap is read.

PYTEST_DONT_REWRITE (the pytest entry module imports this on every pytest run; stdlib only, nothing else).

`--max-cost` (review, eval), pytest's `--assist-max-cost` and ini `assist_max_cost`, and the budget settings
(`SYMPHONY_ASSIST_BUDGET_*`, `[tool.symphony-assist]`) accept the same text: a number with an optional
leading `$`, from 0 to `USD_MAX`. NaN, inf and 1e400 are refused here rather than overflowing the
micro-dollar ledger later; a cap above a million dollars is a typo ("no cap" is an empty setting).
"""

from __future__ import annotations

__all__ = ["ALLOWED", "USD_MAX", "parse_usd"]

USD_MAX = 1_000_000
ALLOWED = f"an amount in USD from 0 to {USD_MAX}, such as 0.25"


def parse_usd(text: str) -> float:
    """`text` (`0.25`, ` $1 `) as a float in [0, USD_MAX]; else ValueError whose message is `ALLOWED`."""
    try:
        value = float(text.strip().removeprefix("$"))
    except ValueError:
        raise ValueError(ALLOWED) from None
    if not 0 <= value <= USD_MAX:  # False for NaN; inf and 1e400 are out of range
        raise ValueError(ALLOWED)
    return value
