"""Third-party plugins are found through the `symphony_assist` entry-point group."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from plugin_site import write_plugin

from symphony_assist_hooks import plugins

PLUGIN = """
from pathlib import Path
from symphony_assist_hooks.hookspecs import hookimpl

@hookimpl
def register_template_dirs(register):
    register(Path(__file__).parent / "templates")
"""


def _install_plugin(site: Path) -> None:
    write_plugin(
        site,
        "sa_demo_plugin",
        PLUGIN,
        {
            "templates/django_security.md.j2": "{#- description: Django-specific security checks -#}\n- CSRF exemptions\n",
            "templates/security.md.j2": "{#- description: overridden by a plugin -#}\n- x\n",
        },
    )


def _run(args: list[str], site: Path, cwd: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run(
        [sys.executable, "-m", "symphony_assist_hooks", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=True,
    )
    return out.stdout


def test_plugin_template_is_listed_and_overrides(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site)
    listing = _run(["templates"], site, tmp_path)
    line = next(ln for ln in listing.splitlines() if ln.startswith("django_security"))
    assert "plugin" in line
    assert "Django-specific security checks" in line
    sec = next(ln for ln in listing.splitlines() if ln.startswith("security "))
    assert "overridden by a plugin" in sec
    plugins = _run(["plugins"], site, tmp_path)
    assert "sa-demo-plugin 1.0" in plugins
    assert "builtins" in plugins


def test_without_plugins_only_builtins(tmp_path: Path) -> None:
    listing = _run(["templates"], tmp_path, tmp_path)
    assert "django_security" not in listing
    assert all("built-in" in ln for ln in listing.splitlines())


@pytest.mark.parametrize("hook", ["register_template_dirs", "register_annotators", "register_analyzers"])
def test_builtins_register_the_same_through_the_plugin_manager(hook: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a plugin the built-in hooks are called directly (no pluggy on a cached review); with one,
    the PluginManager calls them: both must give the same registrations in the same order."""

    def shape(items: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
        return [tuple(a if isinstance(a, str | Path) else type(a).__name__ for a in args) for args in items]

    direct = plugins.registered(hook)
    monkeypatch.setattr(plugins, "has_third_party_plugins", lambda: True)
    plugins.get_plugin_manager.cache_clear()
    try:
        managed = plugins.registered(hook)
        names = [impl.plugin_name for impl in getattr(plugins.get_plugin_manager().hook, hook).get_hookimpls()]
    finally:
        plugins.get_plugin_manager.cache_clear()
    assert shape(managed) == shape(direct)
    assert len(direct) >= 1
    assert all(name.startswith("builtins") for name in names)
