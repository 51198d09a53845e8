"""The built-in prompt templates, registered through the public `register_template_dirs` hook like a
plugin's (the built-in formats and analyzers: `annotators/builtin.py`, `analyzers/builtin.py`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .config import builtin_template_dir
from .hookspecs import hookimpl


@hookimpl
def register_template_dirs(register: Callable[[Path], None]) -> None:
    register(builtin_template_dir())
