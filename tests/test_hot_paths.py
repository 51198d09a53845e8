"""Hot paths stay light: --help, --version, and every cache hit never import the heavy modules."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI
from responders import answering

HEAVY = (
    "openai", "httpx2", "httpx", "pydantic", "jinja2", "redis", "tiktoken", "genai_prices", "git", "bandit",
    "symphony_assist_hooks.analyzers.taint",
)  # fmt: skip

# What --help and --version do not need and no longer import (console.py's docstring has the figures):
# the progress line and its timer thread, `typing` (annotations only), and shutil, which argparse imports
# for the terminal's width (with zlib, bz2, lzma).
UNNEEDED_FOR_HELP = ("threading", "typing", "shutil", "symphony_assist_hooks.terminal.progressline")

PROBE = """
import json, sys
from symphony_assist_hooks.cli import main
watched = json.loads(sys.argv[1])
try:
    rc = main(sys.argv[2:])
except SystemExit as exc:
    rc = exc.code
print(json.dumps({"rc": rc, "heavy": [m for m in watched if m in sys.modules]}), file=sys.stderr)
"""


def probe(args: list[str], env: dict[str, str], watched: tuple[str, ...] = HEAVY) -> dict[str, object]:
    command = [sys.executable, "-c", PROBE, json.dumps(watched), *args]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    return json.loads(out.stderr.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["query", "--help"], ["review", "--help"]])
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    result = probe(args, dict(os.environ))
    assert result["rc"] == 0
    assert result["heavy"] == []


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["review", "--help"]])
def test_help_and_version_leave_out_what_only_commands_need(args: list[str]) -> None:
    # not a measured subprocess: coverage, started by its .pth under --cov, imports threading itself
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_PROCESS_", "COV_CORE_"))}
    result = probe(args, env, UNNEEDED_FOR_HELP)
    assert result["rc"] == 0
    assert result["heavy"] == []


def test_cached_query_imports_nothing_heavy(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.responder = answering()
    env = dict(
        os.environ,
        OPENAI_API_KEY="sk-test-" + secrets.token_hex(16),
        OPENAI_BASE_URL=fake_openai.url,
        SYMPHONY_ASSIST_CACHE_DIR=str(tmp_path / "c"),
    )
    first = probe(["query", "what is a hot path?"], env)
    assert first["rc"] == 0
    assert "openai" in first["heavy"]  # the miss really went through the SDK
    second = probe(["query", "what is a hot path?"], env)
    assert second["rc"] == 0
    assert second["heavy"] == []
    assert len(fake_openai.chat_requests) == 1
