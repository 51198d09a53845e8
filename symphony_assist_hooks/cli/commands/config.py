"""`symphony-assist config`: every setting, its value (keys masked) and where it came from."""

from __future__ import annotations

import argparse

from ...config import Settings
from ...errors import EXIT_OK
from ...terminal.console import Console


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    public = settings.public()
    width = max(len(k) for k in public)
    for name, value in public.items():
        source = settings.sources.get(name, "")
        shown = "-" if value is None or value == () else value
        if name == "cache_dir" and value is None:
            shown = f"{settings.resolved_cache_dir} (the user cache dir)"
        console.print(f"{name:<{width}}  {shown!s:<28}  {source}")
    return EXIT_OK
