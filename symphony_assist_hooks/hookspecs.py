"""The whole extension surface. Plugins implement these with `@hookimpl` and are found through the
entry-point group `symphony_assist`; the built-ins register themselves through the same hooks.

Hooks are always called with keyword arguments. `register` callbacks let the host own names and
collisions (a later registration of the same name wins and is reported by `symphony-assist plugins`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .assistant.provider import Provider
    from .config import Settings
    from .findings import Finding

PROJECT = "symphony_assist"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_template_dirs(register: Callable[[Path], None]) -> None:
    """Add folders of `*.md.j2` prompt templates; a template there overrides a built-in of the same name."""


@hookspec
def register_analyzers(register: Callable[[str, Any], None]) -> None:
    """Add offline analyzers: `register(template_name, analyzer)`."""


@hookspec
def register_annotators(register: Callable[[str, Any], None]) -> None:
    """Add output formats: `register(format_name, annotator)`."""


@hookspec(firstresult=True)
def provider(settings: Settings) -> Provider | None:
    """Return a Provider to use instead of the OpenAI one (the first non-None result wins)."""


@hookspec
def process_findings(findings: list[Finding]) -> list[Finding] | None:
    """Filter or rewrite findings before they are reported; return None to leave them as they are."""
