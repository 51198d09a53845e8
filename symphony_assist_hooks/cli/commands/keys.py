"""`symphony-assist switch-key primary|secondary`: persist which key is used first."""

from __future__ import annotations

import argparse

from ...assistant.provider.keys import KeyRing
from ...config import Settings, user_dirs
from ...errors import EXIT_OK
from ...terminal.console import Console


def keyring(settings: Settings) -> KeyRing:
    return KeyRing(settings.api_key_primary, settings.api_key_secondary, user_dirs()[1] / "state.json")


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    ring = keyring(settings)
    ring.switch(args.alias)
    active = ring.active()
    shown = f" ({active[1].masked()})" if active else ""
    console.print(f"active key: {args.alias}{shown}")
    return EXIT_OK
