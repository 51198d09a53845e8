"""The built-in prompt templates, registered through the public `register_template_dirs` hook.

The built-in plugins (this module, `annotators/builtin.py`, `analyzers/builtin.py`) implement the same
hooks as a third-party plugin, by name and without the `@hookimpl` marker, as pytest's own plugins do:
a cached review calls them without importing pluggy (plugins.py), and the plugin manager takes every
function named after a hook in them as its implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .config import builtin_template_dir


def register_template_dirs(register: Callable[[Path], None]) -> None:
    register(builtin_template_dir())
