"""`symphony-assist cache info|clear|export FILE|import FILE`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...assistant.cache import export_cache, import_cache, open_cache
from ...assistant.provider.dialect import FILE_NAME as DIALECTS
from ...config import Settings
from ...errors import EXIT_OK, UsageError
from ...review.recorder import drop_all
from ...terminal.console import Console


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    cache = open_cache(settings, console.notice)
    try:
        if args.action == "info":
            console.print(json.dumps(cache.info(), indent=2, default=str))
        elif args.action == "clear":
            console.print(f"removed {cache.clear()} cached answers")
            drop_all(settings.resolved_cache_dir)
            dialects = settings.resolved_cache_dir / DIALECTS
            if dialects.exists():  # what each server accepted: asked again on the next request
                dialects.unlink(missing_ok=True)
                console.print(f"forgot the response formats servers accepted ({DIALECTS})")
        else:
            if not args.file:
                raise UsageError(f"cache {args.action} needs a FILE")
            path = Path(args.file)
            if args.action == "export":
                console.print(f"exported {export_cache(cache, path)} answers to {path}")
            else:
                if not path.is_file():
                    raise UsageError(f"cache import: no such file {path}")
                console.print(f"imported {import_cache(cache, path)} answers from {path}")
                drop_all(settings.resolved_cache_dir)  # a kept review may rest on an entry just replaced
    finally:
        cache.close()
    return EXIT_OK
