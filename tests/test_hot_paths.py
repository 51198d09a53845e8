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

PROBE = """
import json, sys
from symphony_assist_hooks.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:
    rc = exc.code
heavy = %r
print(json.dumps({"rc": rc, "heavy": [m for m in heavy if m in sys.modules]}), file=sys.stderr)
""" % (HEAVY,)


def probe(args: list[str], env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=60)
    return json.loads(out.stderr.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["query", "--help"], ["review", "--help"]])
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    result = probe(args, dict(os.environ))
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
