"""How an answer is stored by every cache backend: zlib-compressed JSON bytes, never pickle.

The same bytes live in diskcache's rows (disk.py), in the memory backend and in Redis, so an
entry moves between them unchanged. `decode` turns anything it cannot read into a miss (None).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["decode", "encode"]

COMPRESS_LEVEL = 6  # 2 KB of prose or diff shrinks to 0.34-0.48x (docs/reference.md#cache-storage)


def encode(value: Mapping[str, Any]) -> bytes:
    """The stored form of a JSON object. Raises TypeError or ValueError for anything else (NaN too)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return zlib.compress(text.encode("utf-8"), COMPRESS_LEVEL)


def decode(blob: object) -> dict[str, Any] | None:
    """A fresh dict from stored bytes; None for anything that is not an encoded JSON object."""
    if not isinstance(blob, bytes):
        return None
    try:
        value = json.loads(zlib.decompress(blob))
    except (zlib.error, ValueError):  # ValueError covers JSONDecodeError and UnicodeDecodeError
        return None
    return value if isinstance(value, dict) else None
