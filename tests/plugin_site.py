"""A real (if tiny) installed plugin distribution for tests: a module plus its dist-info with an entry point
in the `symphony_assist` group, in a folder of its own (a site directory)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from symphony_assist_hooks import plugins
from symphony_assist_hooks.assistant import prompts


def write_plugin(site: Path, module: str, source: str, files: Mapping[str, str] | None = None) -> None:
    """`site/<module>/__init__.py` holding `source` (and `files`, relative to the module's folder), and
    `site/<module>-1.0.dist-info` declaring it; the distribution is named like the module, `_` as `-`."""
    package = site / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(source)
    for name, text in (files or {}).items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    dist = site / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[symphony_assist]\n{module} = {module}\n")


def _forget() -> None:
    """What a process remembers about its plugins and the templates they register."""
    for cached in (plugins.has_third_party_plugins, plugins.get_plugin_manager, prompts._cached_registry):
        cached.cache_clear()


@contextmanager
def installed_plugin(
    site: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, files: Mapping[str, str] | None = None
) -> Iterator[None]:
    """The plugin installed on this process's sys.path for the duration, as a fresh process would find it."""
    write_plugin(site, module, source, files)
    monkeypatch.syspath_prepend(str(site))
    _forget()
    try:
        yield
    finally:
        _forget()
        sys.modules.pop(module, None)
