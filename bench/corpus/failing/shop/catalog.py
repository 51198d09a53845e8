from __future__ import annotations

import json
from pathlib import Path


def load_catalog(path: str | Path) -> dict[str, object]:
    with open(path, encoding="utf-8") as fh:
        return dict(json.load(fh))


def write_pidfile(path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("1234\n")
