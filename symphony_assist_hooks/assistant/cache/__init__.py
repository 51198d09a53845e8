"""The answer cache: one `Cache` protocol, its backends, and `open_cache`, which picks one.

Contract shared by every backend:

* `get(key)` returns a fresh `dict` or None. None means a miss, an expired entry, a lock timeout or
  any error: a cache fault never fails a run, it only costs a paid call.
* `set(key, value, ttl)` never raises. `ttl=None` uses the configured TTL; `0` keeps the entry until
  it is evicted. Values must be JSON objects; anything else is skipped with one warning.
* Warnings go through the `warn` callback, one line each, at most once per kind per cache.
* Every backend stores the same bytes (codec.py: zlib-compressed JSON, never pickle), so entries move
  between them unchanged, and `export_cache` / `import_cache` move them through a JSON-lines file.

The backends:

* `DiskCache` (disk.py), the default, in `<cache dir>/responses`. A hit reads SQLite directly;
  diskcache is imported on the first write only (disk_writer.py).
* `MemoryCache` (below): per process, for tests and programs that embed the core.
* `RedisCache` (redis/cache.py), shared by a team, read through this machine's `DiskCache`; imported
  only when the settings ask for it.
* `NullCache` (below): no caching, when the disk cache cannot be used.

This module and the disk backend import only the standard library on a hit, and nothing here ever
imports openai, pydantic, jinja2, httpx2 or redis (docs/reference.md#hit-path).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ...errors import UsageError, Warn
from .codec import decode, encode
from .disk import DiskCache

if TYPE_CHECKING:
    from ...config import Settings

__all__ = [
    "Cache",
    "CacheEntry",
    "ExportableCache",
    "MemoryCache",
    "NullCache",
    "export_cache",
    "import_cache",
    "open_cache",
]

SUBDIR = "responses"

CacheEntry = tuple[str, dict[str, Any], float | None]  # key, value, expire_at (epoch seconds) or None


class Cache(Protocol):
    """Where answers are kept between runs. See the module docstring for the shared contract."""

    backend: str

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored object, or None on a miss, an expired entry, a timeout or any error."""
        ...

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        """Store a JSON object. Never raises; `ttl=None` = the configured TTL, `0` = no expiry."""
        ...

    def clear(self) -> int:
        """Remove every entry; return how many were removed."""
        ...

    def info(self) -> dict[str, Any]:
        """backend, path, entries, bytes, size_limit, ttl (and reason, when caching is off)."""
        ...

    def close(self) -> None:
        """Release files and connections; later calls behave like misses."""
        ...


@runtime_checkable
class ExportableCache(Cache, Protocol):
    """A cache whose entries can be listed and restored (used by `cache export` / `cache import`)."""

    def entries(self) -> Iterator[CacheEntry]:
        """Every live entry as (key, value, expire_at)."""
        ...

    def restore(self, key: str, value: Mapping[str, Any], expire_at: float | None) -> bool:
        """Store an entry with an absolute expiry; False if it had expired or was not stored."""
        ...


# --------------------------------------------------------------------------------------- null/memory
class NullCache:
    """No caching: every get misses, every set is dropped. Used when the cache cannot be opened."""

    backend: str = "none"

    def __init__(self, reason: str = "", path: Path | None = None, ttl: int = 0) -> None:
        self.reason = reason
        self.path = path
        self.ttl = ttl

    def get(self, key: str) -> dict[str, Any] | None:
        return None

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        return None

    def clear(self) -> int:
        return 0

    def info(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "path": str(self.path) if self.path else None,
            "entries": 0,
            "bytes": 0,
            "size_limit": 0,
            "ttl": self.ttl,
            "reason": self.reason,
        }

    def close(self) -> None:
        return None

    def entries(self) -> Iterator[CacheEntry]:
        return iter(())

    def restore(self, key: str, value: Mapping[str, Any], expire_at: float | None) -> bool:
        return False


class MemoryCache:
    """A per-process cache (LLM_CACHE_BACKEND=memory, tests). Thread-safe.

    Values are kept as encoded JSON, so callers get fresh copies and non-JSON values are refused just
    as on disk. When the encoded size passes `size_limit` the least recently stored entries go first.
    `now` is the clock used for expiry (injectable for tests).
    """

    backend: str = "memory"

    def __init__(
        self,
        *,
        size_limit: int = 64 << 20,
        ttl: int = 0,
        warn: Warn | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.size_limit = size_limit
        self.ttl = ttl
        self._warn = warn
        self._now = now
        self._data: dict[str, tuple[bytes, float | None]] = {}  # insertion order = store order
        self._bytes = 0
        self._lock = threading.Lock()
        self._warned = False

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            blob, expire_at = found
            if expire_at is not None and expire_at <= self._now():
                self._drop(key)
                return None
        return decode(blob)

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        self.restore(key, value, self._now() + ttl if ttl else None)

    def restore(self, key: str, value: Mapping[str, Any], expire_at: float | None) -> bool:
        try:
            blob = encode(value)
        except (TypeError, ValueError) as exc:
            if self._warn is not None and not self._warned:
                self._warned = True
                self._warn(f"cache: not caching a value that is not a JSON object ({exc})")
            return False
        with self._lock:
            if expire_at is not None and expire_at <= self._now():
                return False
            self._drop(key)
            self._data[key] = (blob, expire_at)
            self._bytes += len(blob)
            while self._bytes > self.size_limit and self._data:
                self._drop(next(iter(self._data)))
            return key in self._data

    def _drop(self, key: str) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self._bytes -= len(old[0])

    def clear(self) -> int:
        with self._lock:
            count = len(self._data)
            self._data.clear()
            self._bytes = 0
        return count

    def info(self) -> dict[str, Any]:
        with self._lock:
            return {
                "backend": self.backend,
                "path": None,
                "entries": len(self._data),
                "bytes": self._bytes,
                "size_limit": self.size_limit,
                "ttl": self.ttl,
            }

    def close(self) -> None:
        return None

    def entries(self) -> Iterator[CacheEntry]:
        with self._lock:
            items = list(self._data.items())
        now = self._now()
        for key, (blob, expire_at) in items:
            value = decode(blob)
            if value is not None and (expire_at is None or expire_at > now):
                yield key, value, expire_at


# ----------------------------------------------------------------------------------------- open
def open_cache(settings: Settings, warn: Warn, *, subdir: str = SUBDIR, local_only: bool = False) -> Cache:
    """The cache the settings ask for. Never raises for a cache fault: it warns once and returns
    a `NullCache` when the disk cache cannot be used.

    The redis backend (redis/cache.py, imported only here) reads through the disk cache: a local hit
    never imports redis. `local_only` keeps a cache on this machine whatever the backend (the
    per-machine memo of secret scans, for instance), in `<cache dir>/<subdir>`.
    """
    if settings.cache_backend == "memory":
        return MemoryCache(size_limit=settings.cache_size_limit, ttl=settings.cache_ttl, warn=warn)
    directory = settings.resolved_cache_dir / subdir
    local: ExportableCache
    try:
        local = DiskCache(
            directory, size_limit=settings.cache_size_limit, ttl=settings.cache_ttl, warn=warn, announce=not local_only
        )
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        shared = settings.cache_backend == "redis"
        warn(f"cache: cannot use {directory} ({why}); {'no local fallback' if shared else 'not caching'} this run")
        local = NullCache(why, directory, settings.cache_ttl)
    if settings.cache_backend == "redis" and not local_only:
        from .redis import redis_cache  # deferred: the team backend (the redis client behind it)

        return redis_cache(settings, local, warn)
    return local


# ------------------------------------------------------------------------------------ export/import
def export_cache(cache: Cache, path: Path) -> int:
    """Write every live entry to `path` as JSON lines {key, value, expire_at}; return how many.

    The file is created 0600: answers describe private code. Raises UsageError for a backend that
    cannot list its entries, OSError when `path` cannot be written.
    """
    if not isinstance(cache, ExportableCache):
        raise UsageError(f"the {cache.backend} cache backend cannot export its entries")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    count = 0
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for key, value, expire_at in cache.entries():
            fh.write(
                json.dumps(
                    {"key": key, "value": value, "expire_at": expire_at},
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                + "\n"
            )
            count += 1
    return count


def import_cache(cache: Cache, path: Path) -> int:
    """Store the entries of an `export_cache` file; return how many were stored (expired ones are not).

    Raises UsageError naming the file and line of a malformed entry (nothing after it is imported).
    """
    if not isinstance(cache, ExportableCache):
        raise UsageError(f"the {cache.backend} cache backend cannot import entries")
    count = 0
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path}:{lineno}: not a cache export line ({exc})") from None
            expire_at = entry.get("expire_at") if isinstance(entry, dict) else None
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("key"), str)
                and isinstance(entry.get("value"), dict)
                and (expire_at is None or isinstance(expire_at, int | float))
            ):
                expected = "{key: string, value: object, expire_at: number or null}"
                raise UsageError(f"{path}:{lineno}: expected {expected}")
            expires = None if expire_at is None else float(expire_at)
            count += cache.restore(entry["key"], entry["value"], expires)
    return count
