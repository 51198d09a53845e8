"""`symphony-assist templates`: every prompt template with where it comes from."""

from __future__ import annotations

import argparse

from ...assistant.prompts import load_registry
from ...config import Settings
from ...errors import EXIT_OK
from ...terminal.console import Console


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    templates = load_registry(settings.project_root).all()
    width = max((len(t.name) for t in templates), default=4)
    for t in templates:
        about = f"refused: {t.problem}" if t.problem else t.description  # never read: see docs/trust-boundary.md
        console.print(f"{t.name:<{width}}  {t.source:<10}  {about}")
    return EXIT_OK
