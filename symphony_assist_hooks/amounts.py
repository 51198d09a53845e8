"""Numbers as a person types them (a command line, pytest's options, an ini file): one parser per kind.

PYTEST_DONT_REWRITE (the pytest entry module imports this on every pytest run, and `--help` does: the
standard library only, not even `typing`).

A parser returns the value or raises ValueError whose message says what is allowed; `argument` makes it
an argparse type ("expected <allowed>, got '<text>'") and `ini_value` reads an ini key with it ("ini <key>
= '<text>': expected <allowed>"):

- `parse_usd`, an amount in USD: `--max-cost` (review, eval), pytest's `--assist-max-cost` and ini
  `assist_max_cost`, and the budget settings (`SYMPHONY_ASSIST_BUDGET_*`, `[tool.symphony-assist]`): a
  number with an optional leading `$`, from 0 to `USD_MAX`. NaN, inf and 1e400 are refused here rather
  than overflowing the micro-dollar ledger later; a cap above a million dollars is a typo ("no cap" is an
  empty setting);
- `whole_number(minimum)`: `--max-tokens` (1 and up), `--assist-max-failures` and ini
  `assist_max_failures` (0 and up);
- `non_negative`: a finite number >= 0 (`--temperature`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see the docstring)
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

__all__ = ["USD_ALLOWED", "USD_MAX", "argument", "ini_value", "non_negative", "parse_usd", "whole_number"]

USD_MAX = 1_000_000
USD_ALLOWED = f"an amount in USD from 0 to {USD_MAX}, such as 0.25"


def parse_usd(text: str) -> float:
    """`text` (`0.25`, ` $1 `) as a float in [0, USD_MAX]; else ValueError whose message is `USD_ALLOWED`."""
    try:
        value = float(text.strip().removeprefix("$"))
    except ValueError:
        raise ValueError(USD_ALLOWED) from None
    if not 0 <= value <= USD_MAX:  # False for NaN; inf and 1e400 are out of range
        raise ValueError(USD_ALLOWED)
    return value


def whole_number(minimum: int) -> Callable[[str], int]:
    """A parser of whole numbers >= `minimum` (`int()`'s spelling: ` 3 `, `1_000`)."""
    allowed = f"a whole number >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(allowed) from None
        if value < minimum:
            raise ValueError(allowed)
        return value

    return parse


def non_negative(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError("a finite number >= 0") from None
    if not 0 <= value < math.inf:  # also NaN, inf and 1e400
        raise ValueError("a finite number >= 0")
    return value


def argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse` as an argparse type: its ValueError becomes "expected <allowed>, got '<text>'"."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected {exc}, got {text!r}") from None

    return convert


def ini_value(parse: Callable[[str], T], text: str, key: str) -> T:
    """`text`, the value of ini `key`, through `parse`; else ValueError "ini <key> = '<text>': expected …"."""
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"ini {key} = {text!r}: expected {exc}") from None
