"""The project's one PluginManager: built-ins first, then third-party plugins from entry points."""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

__all__ = ["get_plugin_manager", "has_third_party_plugins", "plugin_names", "registered"]

_GROUP_HEADER = "[symphony_assist]"  # hookspecs.PROJECT; pluggy stays unimported on the hit path


@functools.cache
def has_third_party_plugins() -> bool:
    """Whether any installed distribution declares a `symphony_assist` entry point.

    The same answer as `importlib.metadata.entry_points(group=...)`, read straight from the
    `*.dist-info/entry_points.txt` files on sys.path: importing importlib.metadata costs ~13 ms and
    this runs on every cache hit, where pluggy is not needed unless a plugin exists.
    """
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(entry or ".", name, "entry_points.txt"), encoding="utf-8") as fh:
                    if _GROUP_HEADER in fh.read():
                        return True
            except OSError:
                continue
    return False


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    import pluggy

    from . import builtin_plugin, hookspecs

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(builtin_plugin, name="builtins")
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
