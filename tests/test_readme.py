"""README says what the tool does: its option tables are the parser's, its settings table is `SPECS`, and
its Python API examples run as written (against the fake server)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from responders import answering

from symphony_assist_hooks.cli import build_parser
from symphony_assist_hooks.config.specs import SPECS

README = Path(__file__).resolve().parent.parent / "README.md"
OPTION = re.compile(r"--[a-z][a-z-]*")


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    level = title.split(" ", maxsplit=1)[0]
    end = re.compile(rf"^#{{1,{len(level)}}} ", re.M).search(text, start + len(title) + 2)
    return text[start : end.start() if end else len(text)]


def _rows(text: str, header: str) -> list[list[str]]:
    """The rows of the markdown table whose header line starts with `header`, as stripped cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
        rows.append([c.strip() for c in cells])
    return rows


def _parser_options() -> tuple[set[str], dict[str, set[str]]]:
    """(global options, {command: its own options}) as `--help` shows them (help and hidden ones left out)."""
    parser = build_parser()
    shown = [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
    globals_ = {o for a in shown for o in a.option_strings}
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands: dict[str, set[str]] = {}
    for name, p in sub.choices.items():
        commands[name] = {
            o
            for a in p._actions
            if a.option_strings and a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
            for o in a.option_strings
            if o not in globals_
        }
    return globals_, commands


def test_option_tables_match_the_parser() -> None:
    commands_section = _section("## Commands")
    globals_, commands = _parser_options()
    documented_globals = {o for row in _rows(commands_section, "| option | meaning |") for o in OPTION.findall(row[0])}
    assert documented_globals == globals_
    documented: dict[str, set[str]] = {name: set() for name in commands}
    for command, option, _meaning in _rows(commands_section, "| command | option | meaning |"):
        name = command.strip("`")
        assert name in commands, f"README documents options of an unknown command {name!r}"
        documented[name] |= set(OPTION.findall(option))
    assert documented == commands


def test_every_command_is_in_the_command_table() -> None:
    _, commands = _parser_options()
    listed = {row[0].strip("`") for row in _rows(_section("## Commands"), "| command | what it does |")}
    assert listed == set(commands)


def _readme_default(spec_name: str, cell: str) -> Any:
    """README's default cell read as the value `load_settings` would produce."""
    spec = next(s for s in SPECS if s.name == spec_name)
    text = cell.replace("`", "").strip()
    if text in ("—", "-"):
        return None if spec.default is None or spec.default == () else text
    if text == "user cache dir":
        return None
    if m := re.fullmatch(r"(\d+) MiB", text):
        return int(m.group(1)) << 20
    return spec.parse(spec.name, text, "README")


def test_settings_table_matches_the_specs() -> None:
    rows = _rows(_section("## Configuration"), "| environment | pyproject key | default | meaning |")
    by_env = {var: s for s in SPECS for var in s.env}
    seen: dict[str, Any] = {}
    for env_cell, key_cell, default, _meaning in rows:
        keys = re.findall(r"`([a-z_]+)`", key_cell)
        # no pyproject key: an environment-only setting (the keys, the server token)
        names = keys or [by_env[re.findall(r"`([A-Z0-9_]+)`", env_cell)[0]].name]
        for name in names:
            spec = next((s for s in SPECS if s.name == name), None)
            assert spec is not None, f"README documents an unknown setting {name!r}"
            # a setting that routes credentials is never read from a repository's pyproject (trust boundary)
            assert (spec.pyproject and not spec.routes_credentials) == bool(keys), f"{name}: pyproject column"
            if spec.routes_credentials:
                assert "never from a repository" in key_cell, f"{name}: pyproject column"
            env_vars = set(re.findall(r"`(?:SYMPHONY_ASSIST|LLM|OPENAI)[A-Z0-9_]*`", env_cell))
            assert any(f"`{v}`" in env_vars for v in spec.env), f"{name}: environment variable"
            seen[name] = _readme_default(name, default)
    assert set(seen) == {s.name for s in SPECS}
    for spec in SPECS:
        expected = None if spec.default == () else spec.default
        assert seen[spec.name] == expected, f"README's default for {spec.name}"


def test_settings_table_defaults_equal_what_config_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `Settings` defaults (what `config` prints) are the specs' defaults: README checked against both."""
    from symphony_assist_hooks.config import load_settings

    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    for spec in SPECS:
        assert getattr(settings, spec.name) == spec.default, spec.name


def _python_blocks(section: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_python_api_examples_run_as_written(keyed: FakeOpenAI, tmp_path: Path) -> None:
    keyed.responder = answering(answer=lambda q: f"answer to: {q}")
    blocks = _python_blocks(_section("## Python API"))
    assert len(blocks) == 2
    assert "asyncio.run(" in blocks[1] and "await " in blocks[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYMPHONY_ASSIST_", "OPENAI_", "LLM_"))}
    env |= {
        "OPENAI_API_KEY": os.environ["OPENAI_API_KEY"],
        "OPENAI_BASE_URL": keyed.url,
        "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "cache"),
        "SYMPHONY_ASSIST_TIMEOUT": "5",
    }
    outputs = []
    for i, code in enumerate(blocks):
        script = tmp_path / f"example{i}.py"
        script.write_text(code, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    sync, async_ = outputs
    assert sync.splitlines()[0] == "api answer to: What does git rerere do?"
    assert "q2 {'answer': 'answer to: What is a semaphore?'}" in sync
    assert "1 request(s)" in sync
    assert "2 answers from the cache;" in sync  # ask_many: the batch again is all hits
    assert "{'answer': 'answer to: What is a coroutine?'}" in async_
    assert "{'answer': 'answer to: What does asyncio.gather do?'}" in async_
    assert len(keyed.chat_requests) == 5  # query, the batch (one request), RAII, two async questions
