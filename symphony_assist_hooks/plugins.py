"""The project's one PluginManager: the built-ins first, then third-party plugins from entry points.

The built-in features register through the same public hooks as any plugin (`hookspecs.py`):
`builtin_plugin.py` (the prompt templates), `annotators/builtin.py` (the output formats) and
`analyzers/builtin.py` (the diff and failure analyzers). There is no second registry: a format or an
analyzer exists because a plugin, built-in or not, registered it through its hook.

Third-party plugins are loaded by pluggy's own `load_setuptools_entrypoints`, and only when a
distribution declares the `symphony_assist` entry-point group. Measured in fresh interpreters on the
2-core development machine (min of 21 runs each, the package already imported):

    has_third_party_plugins()  (reads sys.path's */entry_points.txt)           1.2 ms
    import pluggy                                                            15.0 ms
    pluggy.PluginManager(...).load_setuptools_entrypoints("symphony_assist")   45.3 ms
    import the built-in analyzers (analyzers/builtin.py and what it imports)  ~60 ms (importtime)

A replayed hook run takes ~60 ms in all and a cached review needs only the formats, so without a
third-party plugin `registered(hook)` calls the built-in implementations of that one hook directly
(no pluggy, no other family imported); with one, the PluginManager holds the built-ins and pluggy
loads the entry points. Both give the same registrations in the same order.

Checked with `-X importtime` on a cached 50-file review with replay off (bench/hook.py's repository):
the same 167 modules as before the built-ins went through the hooks, plus annotators/builtin.py (whose
formats are `Deferred`: only the one used is imported); no pluggy, no importlib.metadata, no analyzers.
`python -m bench --only hook` and tests/test_hot_paths.py guard the replayed run and the cached query.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

    from .analyzers.common import Analyzer, FailureAnalyzer
    from .annotators.base import Annotator

__all__ = [
    "analyzers",
    "annotators",
    "get_plugin_manager",
    "has_third_party_plugins",
    "plugin_names",
    "registered",
]

_GROUP_HEADER = "[symphony_assist]"  # hookspecs.PROJECT; pluggy stays unimported on the hit path


@functools.cache
def has_third_party_plugins() -> bool:
    """Whether any installed distribution declares a `symphony_assist` entry point.

    The same answer as `importlib.metadata.entry_points(group=...)`, read from the
    `*.dist-info/entry_points.txt` files on sys.path in ~1 ms against ~40 ms for importlib.metadata
    (see the module docstring). Only a yes/no: pluggy loads the entry points.
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


def _builtin_plugins(hook: str | None = None) -> Iterator[tuple[str, object]]:
    """The built-in plugin modules that implement `hook` (every one for None), imported on demand:
    the analyzers alone cost a cached review ~60 ms of imports (module docstring)."""
    if hook in (None, "register_template_dirs"):
        from . import builtin_plugin  # deferred: only the families a hook needs

        yield "builtins", builtin_plugin
    if hook in (None, "register_annotators"):
        from .annotators import builtin as builtin_annotators  # deferred: only the families a hook needs

        yield "builtins.annotators", builtin_annotators
    if hook in (None, "register_analyzers"):
        from .analyzers import builtin as builtin_analyzers  # deferred: only the families a hook needs

        yield "builtins.analyzers", builtin_analyzers


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The built-ins, then every plugin of the `symphony_assist` entry-point group (pluggy loads them)."""
    import pluggy  # the plugin framework: see the module docstring for what it costs

    from . import hookspecs  # imports pluggy: see the module docstring

    builtins = dict(_builtin_plugins())

    class PluginManager(pluggy.PluginManager):
        def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
            """A built-in plugin implements a hook by naming a function after it (as pytest's own
            plugins do); a third-party plugin marks its functions with `hookspecs.hookimpl`."""
            opts = super().parse_hookimpl_opts(plugin, name)
            builtin = any(plugin is p for p in builtins.values())
            if opts is None and builtin and hasattr(self.hook, name) and callable(getattr(plugin, name, None)):
                return pluggy.HookimplOpts(
                    wrapper=False, hookwrapper=False, optionalhook=False, tryfirst=False, trylast=False, specname=None
                )
            return opts

    pm = PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name, plugin in builtins.items():
        pm.register(plugin, name=name)
    if has_third_party_plugins():
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
    """Call a `register_*` hook and return every registration in call order (built-ins first)."""
    items: list[tuple[Any, ...]] = []

    def register(*args: Any) -> None:
        items.append(args)

    if not has_third_party_plugins():  # the built-ins alone: no pluggy (module docstring)
        for _, plugin in _builtin_plugins(hook):
            getattr(plugin, hook)(register=register)
        return items
    # pluggy lists implementations in registration order; later plugins override earlier ones.
    for impl in getattr(get_plugin_manager().hook, hook).get_hookimpls():
        impl.function(register=register)
    return items


def annotators() -> dict[str, Annotator]:
    """Every output format by lower-case name, built-ins first (a later registration of a name wins)."""
    return {str(args[0]).strip().lower(): args[1] for args in registered("register_annotators")}


def analyzers() -> dict[str, Analyzer | FailureAnalyzer]:
    """Every local analyzer by the template it answers for (a later registration of a name wins)."""
    return {str(args[0]): args[1] for args in registered("register_analyzers")}
