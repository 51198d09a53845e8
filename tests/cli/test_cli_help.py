"""`--help` is laid out exactly as argparse's own formatter lays it out, at the terminal's width.

The CLI sizes its help without importing shutil (cli/__init__.py `_columns`), so these compare its
output with what argparse writes with its stock formatters, which ask `shutil.get_terminal_size`.
"""

from __future__ import annotations

import argparse
import re
import sys

import pytest

from symphony_assist_hooks import errors
from symphony_assist_hooks.cli import build_parser, main


def _stock_help(command: str | None) -> str:
    """The same parser's help, formatted by argparse's own classes."""
    parser = build_parser()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for sub in subparsers.choices.values():
        sub.formatter_class = argparse.HelpFormatter
    return (subparsers.choices[command] if command else parser).format_help()


def _help(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("columns", ["60", "200", "0", "wide", None])
@pytest.mark.parametrize("command", [None, "review", "eval"])
def test_help_has_argparse_layout_at_the_terminal_width(
    columns: str | None, command: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    args = [command, "--help"] if command else ["--help"]
    assert _help(args, capsys) == _stock_help(command)


def test_help_without_a_stdout_falls_back_to_80_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "__stdout__", None)  # pythonw, or a closed descriptor
    text = _help(["--help"], capsys)
    assert text == _stock_help(None)
    usage = text.split("\n\n")[0].splitlines()
    assert len(usage) > 1 and max(map(len, usage)) <= 78  # wrapped to 80 - 2, as argparse does


def test_wide_terminal_keeps_the_usage_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(["--help"], capsys)
    assert (
        text.splitlines()[0]
        == "usage: symphony-assist [-h] [--version] [--color {auto,always,never}] [--offline] COMMAND ..."
    )


def test_help_lists_every_exit_code_the_command_returns(capsys: pytest.CaptureFixture[str]) -> None:
    """Each EXIT_* code in errors.py appears in --help's exit-code list (130, interrupted, was missing)."""
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out.split("exit codes:", 1)[1]
    codes = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert codes == {int(code) for code in re.findall(r"(?<![\w-])(\d+) [a-z]", listed)}
