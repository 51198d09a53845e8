"""One parser per kind of number: the command line, pytest's options and ini keys, and the settings agree."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from symphony_assist_hooks import pytest_plugin
from symphony_assist_hooks.amounts import USD_ALLOWED as ALLOWED
from symphony_assist_hooks.amounts import USD_MAX, argument, ini_value, non_negative, parse_usd, whole_number
from symphony_assist_hooks.cli import build_parser, main
from symphony_assist_hooks.config import load_settings
from symphony_assist_hooks.errors import EXIT_USAGE, ConfigError

GOOD = [("0.25", 0.25), (" $1 ", 1.0), ("$0", 0.0), ("1e-3", 0.001), (str(USD_MAX), float(USD_MAX))]
BAD = ["", "$", "cheap", "-0.01", "nan", "inf", "1e400", "1000000.01", "$$1", "0.25$"]


@pytest.mark.parametrize(("text", "value"), GOOD)
def test_every_place_accepts_the_same_amounts(text: str, value: float, tmp_path: Path) -> None:
    assert parse_usd(text) == value
    assert build_parser().parse_args(["review", "--max-cost", text]).max_cost == value
    assert pytest_plugin._usd(text) == value
    assert ini_value(parse_usd, text, "assist_max_cost") == value
    settings = load_settings(env={"SYMPHONY_ASSIST_BUDGET_RUN": text}, cwd=tmp_path)
    assert settings.budget_run == value


@pytest.mark.parametrize("text", BAD)
def test_every_place_refuses_the_same_amounts_with_the_same_words(text: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"^{ALLOWED}$"):
        parse_usd(text)
    with pytest.raises(argparse.ArgumentTypeError, match=f"^expected {ALLOWED}, got "):
        pytest_plugin._usd(text)
    with pytest.raises(ValueError, match=f"^ini assist_max_cost = .*: expected {ALLOWED}$"):
        ini_value(parse_usd, text, "assist_max_cost")
    if text.strip():  # an empty budget setting means "no cap"
        with pytest.raises(ConfigError, match=ALLOWED):
            load_settings(env={"SYMPHONY_ASSIST_BUDGET_DAILY": text}, cwd=tmp_path)


def test_a_bad_max_cost_is_one_usage_line_naming_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "--max-cost", "lots"]) == EXIT_USAGE
    [line] = capsys.readouterr().err.splitlines()
    assert f"argument --max-cost: expected {ALLOWED}, got 'lots'" in line


def test_an_empty_budget_setting_means_no_cap(tmp_path: Path) -> None:
    for empty in ("", "none", "off"):
        assert load_settings(env={"SYMPHONY_ASSIST_BUDGET_MONTHLY": empty}, cwd=tmp_path).budget_monthly is None


@pytest.mark.parametrize(
    ("parse", "good", "bad", "allowed"),
    [
        (whole_number(0), [("0", 0), (" 7 ", 7), ("1_000", 1000)], ["-1", "many", "2.5", ""], "a whole number >= 0"),
        (whole_number(1), [("1", 1)], ["0"], "a whole number >= 1"),
        (non_negative, [("0", 0.0), ("0.7", 0.7)], ["-0.1", "nan", "inf", "1e400", "warm"], "a finite number >= 0"),
    ],
)
def test_counts_and_numbers_read_the_same_on_the_command_line_and_in_an_ini_file(
    parse: Any, good: list[tuple[str, float]], bad: list[str], allowed: str
) -> None:
    for text, value in good:
        assert parse(text) == value == argument(parse)(text) == ini_value(parse, text, "assist_max_failures")
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=f"^expected {allowed}, got {text!r}$"):
            argument(parse)(text)
        with pytest.raises(ValueError, match=f"^ini assist_max_failures = {text!r}: expected {allowed}$"):
            ini_value(parse, text, "assist_max_failures")


def test_the_command_line_says_what_a_count_must_be(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--max-tokens", "0", "hi"]) == EXIT_USAGE
    assert "argument --max-tokens: expected a whole number >= 1, got '0'" in capsys.readouterr().err
