"""The built-in features, registered through the same public hooks as any third-party plugin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .config import builtin_template_dir
from .hookspecs import hookimpl


@hookimpl
def register_template_dirs(register: Callable[[Path], None]) -> None:
    register(builtin_template_dir())
