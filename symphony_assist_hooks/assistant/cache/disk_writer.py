"""The write side of the disk cache: diskcache, opened on a `DiskCache`'s first write or clear.

Imported only then (diskstore.py), so that a hit, which reads SQLite directly, never imports diskcache
(~21-33 ms) nor parses this module. diskcache is pinned to 5.6.3, which is unmaintained: the two
subclasses below rely on its internals staying as they are.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import diskcache
from diskcache import core

__all__ = ["BoundedCache", "SafeDisk", "open_writer"]


class SafeDisk(diskcache.Disk):  # type: ignore[misc]  # diskcache ships no type hints
    """Stores only bytes values and str/bytes keys; never pickles, never unpickles."""

    def __init__(self, directory: str, **settings: Any) -> None:
        # Settings come from the database's Settings table: take only what we know.
        super().__init__(directory, min_file_size=int(settings.get("min_file_size", 1 << 15)))

    def put(self, key: Any) -> Any:
        if type(key) not in (str, bytes):
            raise TypeError("cache keys must be str")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        # A non-raw key is a pickle written by someone else: hand back its bytes, never load it.
        return super().get(key, raw) if raw else bytes(key)

    def store(self, value: Any, read: bool, key: Any = core.UNKNOWN) -> Any:
        if read or type(value) is not bytes:
            raise TypeError("only encoded bytes are stored (never pickles)")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if read or mode not in (core.MODE_RAW, core.MODE_BINARY):
            return None  # MODE_PICKLE (CVE-2025-69872) or text: treated as a miss
        return super().fetch(mode, filename, value, read)


class BoundedCache(diskcache.Cache):  # type: ignore[misc]
    """diskcache.Cache whose constructor gives up on a locked database after `timeout`, not 60 s.

    `Cache.__init__` writes its Settings table through `_sql_retry`, which loops for 60 s on
    'database is locked' (pinned to diskcache 5.6.3, which is unmaintained and will not change).
    """

    def __init__(self, directory: str, *, open_timeout: float, **settings: Any) -> None:
        self._open_timeout = open_timeout
        super().__init__(directory, **settings)

    @property
    def _sql_retry(self) -> Callable[..., Any]:
        sql = self._sql
        limit = self._open_timeout

        def execute(statement: str, *args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            while True:
                try:
                    return sql(statement, *args, **kwargs)
                except sqlite3.OperationalError as exc:
                    if str(exc) != "database is locked" or time.monotonic() - start > limit:
                        raise
                    time.sleep(0.002)

        return execute


def open_writer(directory: str, *, size_limit: int, timeout: float) -> Any:
    """diskcache.Cache on `directory` as the disk cache writes it: bytes only, least-recently-stored
    eviction, no statistics or tag index, every lock (opening included) bounded by `timeout`."""
    return BoundedCache(
        directory,
        open_timeout=timeout,
        timeout=timeout,
        disk=SafeDisk,
        eviction_policy="least-recently-stored",
        size_limit=size_limit,
        statistics=0,
        tag_index=0,
    )
