"""The hardening matrix (issue #10): markers, the end-of-run count, and the fixtures its cases share.

The four markers and the `hardening matrix` section are implemented in `matrix.py`, which
tests/conftest.py loads as a plugin (see its docstring for why a conftest in this directory is loaded
too late for both). The hooks here are the fallback for a run that does not load that plugin; they
do nothing when it is loaded, so the section is printed once.

Fixtures (the classes are in support.py): `hook_env`, the environment of a hook run, and `books`, the
ledger and stats log that run leaves behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hardening import matrix
from hardening.support import Books, HookEnv, fake_key


def _matrix_plugin_loaded(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin(matrix.PLUGIN_NAME)


def pytest_configure(config: pytest.Config) -> None:
    matrix.register_markers(config)  # idempotent: the plugin may have registered them already


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not _matrix_plugin_loaded(config):
        matrix.write_summary(terminalreporter)


@pytest.fixture
def hook_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HookEnv:
    env = HookEnv(tmp_path / "cache", monkeypatch, {"primary": fake_key(), "secondary": fake_key()})
    monkeypatch.setenv("OPENAI_API_KEY_PRIMARY", env.keys["primary"])
    monkeypatch.setenv("OPENAI_API_KEY_SECONDARY", env.keys["secondary"])
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(env.cache_dir))
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "2")
    monkeypatch.setenv("SYMPHONY_ASSIST_DEADLINE", "10")
    monkeypatch.setenv("SYMPHONY_ASSIST_CONCURRENCY", "1")
    return env


@pytest.fixture
def books(hook_env: HookEnv) -> Books:
    return Books(hook_env.cache_dir)
