"""`symphony-assist plugins`: loaded plugins and what they registered."""

from __future__ import annotations

import argparse

from ...config import Settings
from ...errors import EXIT_OK
from ...plugins import plugin_names
from ...terminal.console import Console


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    for name, dist in plugin_names():
        console.print(f"{name}  ({dist})")
    return EXIT_OK
