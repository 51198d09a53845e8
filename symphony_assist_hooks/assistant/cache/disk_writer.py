"""The write side of the disk cache: diskcache, through its public API, opened on a `DiskCache`'s first write.

Imported only then (disk.py), so that a hit, which reads the database directly, never imports diskcache nor
parses this module.

Two things diskcache's API offers are used as documented: a `Disk` subclass (its serialisation hook) that stores
bytes only and never loads a pickle, and the public `Cache` constructor and methods. One thing it lacks: a bound
on opening. `Cache.__init__` writes its Settings table and, on 'database is locked', retries each statement for
60 s whatever `timeout` says (measured here: a process holding the write lock for 3 s made the constructor wait
3.02 s). A commit must never wait for another process's write, so the constructor runs on a helper thread and
the writer gives up after `timeout`: the caller gets `diskcache.Timeout` (writes pause, as after any lock
timeout) and the thread, a daemon, finishes or dies with the process.
"""

from __future__ import annotations

import threading
from typing import Any

import diskcache
from diskcache import core

__all__ = ["SafeDisk", "open_writer"]


class SafeDisk(diskcache.Disk):  # type: ignore[misc]  # diskcache ships no type hints
    """Stores only bytes values and str/bytes keys; never pickles, never unpickles (CVE-2025-69872)."""

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
            return None  # MODE_PICKLE or text: treated as a miss
        return super().fetch(mode, filename, value, read)


def open_writer(directory: str, *, size_limit: int, timeout: float) -> Any:
    """diskcache.Cache on `directory` as the disk cache writes it: bytes only, least-recently-stored
    eviction, no statistics or tag index, every lock (opening included) bounded by `timeout`.

    Raises diskcache.Timeout when the constructor is still waiting for a lock after `timeout` seconds,
    and whatever the constructor raised otherwise (OSError, sqlite3.Error)."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def construct() -> None:
        try:
            box["cache"] = diskcache.Cache(
                directory,
                timeout=timeout,
                disk=SafeDisk,
                eviction_policy="least-recently-stored",
                size_limit=size_limit,
                statistics=0,
                tag_index=0,
            )
            # diskcache keeps one connection per thread: close this thread's, or the last close would not
            # be the last connection and the WAL would never be checkpointed. The caller's thread opens its own.
            box["cache"].close()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=construct, name="symphony-assist-cache-open", daemon=True).start()
    if not done.wait(timeout):
        raise diskcache.Timeout(f"opening the cache waited {timeout:g} s for another process's write lock")
    if "error" in box:
        raise box["error"]
    return box["cache"]
