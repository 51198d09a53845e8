"""Shared fixtures. The real home, cache, config and keys are unreachable from every test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from fakeserver import FakeOpenAI

# Property tests try the same examples on every run (Hypothesis' built-in "ci" profile: derandomized, no
# example database, no deadline), so a rare example found by chance never fails an unrelated change; it is
# what Hypothesis loads by itself when the CI variable is set. HYPOTHESIS_PROFILE=default explores new ones.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_KEY_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_API_KEY_PRIMARY",
    "OPENAI_API_KEY_SECONDARY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG dirs at a fresh directory; drop every real key and our settings.

    A test that still reaches the real home fails loudly: HOME itself is replaced.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CACHE_HOME", ".cache"), ("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share")):
        monkeypatch.setenv(var, str(home / sub))
    for var in list(os.environ):
        if var in _KEY_VARS or var.startswith(("SYMPHONY_ASSIST_", "LLM_", "PRE_COMMIT", "GITHUB_", "GITLAB_")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.invalid")
    monkeypatch.delenv("GIT_INDEX_FILE", raising=False)
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)
    return home


@pytest.fixture(autouse=True)
def _no_pending_replay() -> Iterator[None]:
    """A replay lookup belongs to one process run (entry.main): never carried from one test to the next."""
    from symphony_assist_hooks.review import replay

    replay.lookup.pending = None
    yield
    replay.lookup.pending = None


from fakeserver import closed_port_url, fake_openai  # noqa: F401,E402
from gitrepo import git_repo  # noqa: F401,E402
from redis_server import private_redis, redis_url  # noqa: F401,E402


@pytest.fixture
def keyed(fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:  # noqa: F811
    """The fake server with a fake key, a per-test cache dir (`<tmp_path>/cache`) and a short timeout."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + secrets.token_hex(16))
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "5")
    return fake_openai


pytest_plugins = ["hardening.matrix"]  # the hardening markers and matrix count (#10); see tests/hardening/matrix.py
