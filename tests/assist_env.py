"""What a `pytest --assist` test needs around its inner session: a private cache dir and the fake server.

Imported by the test modules that run inner sessions (tests/test_pytest_plugin.py, tests/explain/):
`private_cache` is autouse wherever it is imported.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI


@pytest.fixture(autouse=True)
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every inner session (and its xdist workers) caches, budgets and logs under this test's tmp dir."""
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "assist-cache"))


def point_at(
    monkeypatch: pytest.MonkeyPatch, fake: FakeOpenAI, responder: Callable[[dict[str, Any]], dict[str, Any]]
) -> FakeOpenAI:
    """The fake server answering with `responder`, and a key generated now."""
    fake.responder = responder
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + secrets.token_hex(20))
    monkeypatch.setenv("SYMPHONY_ASSIST_DEADLINE", "20")
    monkeypatch.setenv("LLM_MODEL_FALLBACK", "gpt-4o-mini")  # one model: a 500 is not retried on a second
    return fake


def assist_section(result: pytest.RunResult) -> str:
    """The `symphony-assist` section an inner session printed (up to pytest's short summary)."""
    text = result.stdout.str()
    start = text.find("= symphony-assist =")
    assert start >= 0, text
    end = text.find("short test summary info", start)
    return text[start : end if end > 0 else None]
