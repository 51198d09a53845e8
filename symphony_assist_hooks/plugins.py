"""The project's one PluginManager: built-ins first, then third-party plugins from entry points."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs

__all__ = ["builtin_template_dir", "get_plugin_manager", "plugin_names", "registered"]


def builtin_template_dir() -> Path:
    """Templates shipped in the wheel (`symphony_assist_hooks/templates`) or, in a source checkout,
    the top-level `templates/` folder."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "templates"


class _Builtins:
    """The built-in features, registered through the same public hooks as any plugin."""

    @hookspecs.hookimpl
    def register_template_dirs(self, register: Callable[[Path], None]) -> None:
        register(builtin_template_dir())


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(_Builtins(), name="builtins")
    pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    return pm


def plugin_names() -> list[tuple[str, str]]:
    """(name, distribution or 'built-in') of every loaded plugin."""
    pm = get_plugin_manager()
    dists = {id(plugin): f"{dist.project_name} {dist.version}" for plugin, dist in pm.list_plugin_distinfo()}
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        out.append((str(name), dists.get(id(plugin), "built-in")))
    return out


def registered(hook: str) -> list[tuple[Any, ...]]:
    """Call a `register_*` hook and return every registration in call order (builtins first)."""
    items: list[tuple[Any, ...]] = []
    caller = getattr(get_plugin_manager().hook, hook)

    def register(*args: Any) -> None:
        items.append(args)

    # pluggy calls the last registered plugin first; reverse so later plugins override earlier ones.
    for impl in caller.get_hookimpls():
        impl.function(register=register)
    return items
