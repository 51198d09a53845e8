"""One parser of USD amounts: the command line, pytest's option and ini key, and the budget settings agree."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from symphony_assist_hooks import pytest_plugin
from symphony_assist_hooks.cli import build_parser, main
from symphony_assist_hooks.config import load_settings
from symphony_assist_hooks.errors import EXIT_USAGE, ConfigError
from symphony_assist_hooks.explain import session
from symphony_assist_hooks.usd import ALLOWED, USD_MAX, parse_usd

GOOD = [("0.25", 0.25), (" $1 ", 1.0), ("$0", 0.0), ("1e-3", 0.001), (str(USD_MAX), float(USD_MAX))]
BAD = ["", "$", "cheap", "-0.01", "nan", "inf", "1e400", "1000000.01", "$$1", "0.25$"]


@pytest.mark.parametrize(("text", "value"), GOOD)
def test_every_place_accepts_the_same_amounts(text: str, value: float, tmp_path: Path) -> None:
    assert parse_usd(text) == value
    assert build_parser().parse_args(["review", "--max-cost", text]).max_cost == value
    assert pytest_plugin._usd(text) == value
    assert session._usd(text, "assist_max_cost") == value
    settings = load_settings(env={"SYMPHONY_ASSIST_BUDGET_RUN": text}, cwd=tmp_path)
    assert settings.budget_run == value


@pytest.mark.parametrize("text", BAD)
def test_every_place_refuses_the_same_amounts_with_the_same_words(text: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"^{ALLOWED}$"):
        parse_usd(text)
    with pytest.raises(argparse.ArgumentTypeError, match=f"^expected {ALLOWED}, got "):
        pytest_plugin._usd(text)
    with pytest.raises(ValueError, match=f"^ini assist_max_cost = .*: expected {ALLOWED}$"):
        session._usd(text, "assist_max_cost")
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
