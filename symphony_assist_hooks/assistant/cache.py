"""The answer cache: one `Cache` protocol and its backends (disk, memory, none).

Contract shared by every backend:

* `get(key)` returns a fresh `dict` or None. None means a miss, an expired entry, a lock timeout or
  any error: a cache fault never fails a run, it only costs a paid call.
* `set(key, value, ttl)` never raises. `ttl=None` uses the configured TTL; `0` keeps the entry until
  it is evicted. Values must be JSON objects; anything else is skipped with one warning.
* Warnings go through the `warn` callback, one line each, at most once per kind per cache.

`DiskCache` (the default) wraps `diskcache.Cache` in `<cache dir>/responses`:

* Never pickle (CVE-2025-69872, GHSA-w8v5-vhqr-4h9v). Values are stored as zlib-compressed JSON
  bytes, which diskcache keeps raw. The reads below only decode rows in raw or binary-file mode, and
  the `Disk` subclass given to diskcache refuses to store anything but bytes and returns a miss for a
  row in pickle mode, so a planted pickle is never loaded. Keys are `str` (stored raw, never pickled).
* The directory is created 0700; a group/world-writable one we own is tightened to 0700, one owned by
  another user is refused (no caching).
* A hit reads diskcache's table through one query-only SQLite connection (~0.3 ms to open, ~10 µs a
  get) and imports no diskcache; diskcache is opened on the first write. Reads never wait for
  writers (SQLite WAL).
* Locks are short (`LOCK_TIMEOUT`): a write that cannot get the lock is skipped and further writes pause
  for `WRITE_BACKOFF` seconds, so a busy or stuck writer elsewhere never stalls a commit. Opening
  diskcache is bounded by the same timeout: its constructor otherwise retries a locked database for
  up to 60 s (RELIABILITY.md §6.1).
* A corrupted database (`sqlite3.DatabaseError`, on any read or write) is moved aside to
  `responses.corrupt-<UTC timestamp>` with one warning, and a fresh cache is built.
* An unusable directory (a file in the way, not ours, cannot be created) gives a `NullCache` and one
  warning; a database that refuses writes (read-only) keeps serving hits and stops writing, with one
  warning. A full disk skips writes with one warning; reads keep working.
* Eviction is diskcache's default least-recently-stored: a hit is a pure read (least-recently-used
  would turn every hit into a write, 4-5x slower; PERFORMANCE.md §2).

This module imports only the standard library; `diskcache` is imported on a `DiskCache`'s first
write, and nothing here ever imports openai, pydantic, jinja2 or httpx2 (PERFORMANCE.md §9).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import shutil
import sqlite3
import stat
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import UsageError

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "LOCK_TIMEOUT",
    "Cache",
    "CacheEntry",
    "DiskCache",
    "ExportableCache",
    "MemoryCache",
    "NullCache",
    "ensure_private_dir",
    "export_cache",
    "import_cache",
    "open_cache",
]

LOCK_TIMEOUT = 1.0  # seconds a cache operation may wait for another process's write lock
WRITE_BACKOFF = 5.0  # seconds writes are skipped after a lock timeout
SUBDIR = "responses"
_COMPRESS_LEVEL = 6  # 2 KB of prose or diff shrinks to 0.34-0.48x (PERFORMANCE.md §2)

Warn = Callable[[str], None]
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


# ------------------------------------------------------------------------------------------ encoding
def _encode(value: Mapping[str, Any]) -> bytes:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return zlib.compress(text.encode("utf-8"), _COMPRESS_LEVEL)


def _decode(blob: object) -> dict[str, Any] | None:
    if not isinstance(blob, bytes):
        return None
    try:
        value = json.loads(zlib.decompress(blob))
    except (zlib.error, ValueError):  # ValueError covers JSONDecodeError and UnicodeDecodeError
        return None
    return value if isinstance(value, dict) else None


# ----------------------------------------------------------------------------------------- directory
def ensure_private_dir(path: Path, warn: Warn) -> None:
    """Make `path` a directory only its owner can use, or raise OSError.

    Creates it (and a missing parent) 0700. An existing directory we own with group/other bits is
    chmod-ed to 0700 (with a warning if it was world-writable). One owned by another user is refused
    with PermissionError: whoever can write it could plant entries (RELIABILITY.md §6.2).
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)  # FileExistsError when a file is in the way
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{path} is not a directory")
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: ACLs, not mode bits
        return
    if st.st_uid != getuid():
        raise PermissionError(f"{path} belongs to uid {st.st_uid}, not to this user")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
        if st.st_mode & 0o002:
            warn(f"cache: {path} was writable by every user; restricted it to its owner (0700)")


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
        return _decode(blob)

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        self.restore(key, value, self._now() + ttl if ttl else None)

    def restore(self, key: str, value: Mapping[str, Any], expire_at: float | None) -> bool:
        try:
            blob = _encode(value)
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
            value = _decode(blob)
            if value is not None and (expire_at is None or expire_at > now):
                yield key, value, expire_at


# ------------------------------------------------------------------------------------------------ disk
@functools.cache
def _diskcache_classes() -> tuple[Any, Any, Any]:
    """(diskcache module, bounded Cache subclass, safe Disk subclass), built on first use.

    Defined lazily so that importing this module never imports diskcache (~21-33 ms).
    """
    import diskcache
    from diskcache import core

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

    return diskcache, BoundedCache, SafeDisk


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _is_disk_full(exc: BaseException) -> bool:
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "full" in str(exc)


# diskcache 5.6.3's storage format, read directly on the hit path (the project is unmaintained: frozen).
_DBNAME = "cache.db"
_MODE_RAW = 1  # value held in the row
_MODE_BINARY = 2  # value held in a file under the directory; MODE_PICKLE (4) is never read
_SELECT = (
    "SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1 AND (expire_time IS NULL OR expire_time > ?)"
)
_SELECT_ALL = (
    "SELECT key, expire_time, mode, filename, value FROM Cache"
    " WHERE raw = 1 AND (expire_time IS NULL OR expire_time > ?) ORDER BY rowid"
)


class DiskCache:
    """The default backend: diskcache's database in `directory`.

    Reads (`get`, `info`, `entries`) query diskcache's `Cache` table through one query-only SQLite
    connection: a hit opens in ~0.3 ms, reads in ~10 µs and imports no diskcache. diskcache itself,
    whose constructor rewrites its Settings table on every open (then checkpoints the WAL when it
    closes its first connection: 7-24 ms measured here), is opened on the first `set` or `clear` only.

    The constructor only prepares the directory; it raises OSError when the directory cannot be used
    (`open_cache` turns that into a `NullCache`). Thread-safe.
    """

    backend: str = "disk"

    def __init__(
        self, directory: Path, *, size_limit: int, ttl: int, warn: Warn, timeout: float = LOCK_TIMEOUT
    ) -> None:
        self.path = directory
        self.size_limit = size_limit
        self.ttl = ttl
        self.timeout = timeout
        self._warn = warn
        self._warned: set[str] = set()
        self._lock = threading.RLock()
        self._reader: sqlite3.Connection | None = None
        self._reader_pid = 0
        self._writer: Any = None  # diskcache.Cache, opened on first write
        self._generation = 0  # bumped by each repair, so one fault is repaired once
        self._off = False  # could not be repaired: behave like a NullCache
        self._writes_off = False  # the database refuses writes (read-only file, ...)
        self._writes_paused_until = 0.0  # monotonic; set after a lock timeout
        self._identity = self._prepare()

    # ------------------------------------------------------------------------------------- internals
    def _prepare(self) -> tuple[int, int]:
        ensure_private_dir(self.path, self._warn)
        st = self.path.stat()
        return st.st_dev, st.st_ino

    def _read_con(self) -> sqlite3.Connection | None:
        """The query-only connection, or None while no database exists yet (caller holds the lock)."""
        if self._reader is not None and self._reader_pid == os.getpid():
            return self._reader
        self._reader = None  # a connection inherited through fork is not ours to use
        db = self.path / _DBNAME
        if not db.exists():
            return None
        uri = db.absolute().as_uri() + "?mode=rw"  # rw: never create a stray empty database
        con = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA query_only = 1")
        self._reader, self._reader_pid = con, os.getpid()
        return con

    def _write_cache(self) -> Any:
        """diskcache.Cache on the directory, or None while writes are off or paused (lock held)."""
        if self._writer is not None:
            return self._writer
        if self._off or self._writes_off:
            return None
        _, cache_class, disk_class = _diskcache_classes()
        self._writer = cache_class(
            str(self.path),
            open_timeout=self.timeout,
            timeout=self.timeout,
            disk=disk_class,
            eviction_policy="least-recently-stored",
            size_limit=self.size_limit,
            statistics=0,
            tag_index=0,
        )
        return self._writer

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            self._warn(message)

    def _close_connections(self) -> None:
        reader, self._reader = self._reader, None
        writer, self._writer = self._writer, None
        for con in (reader, writer):
            if con is not None:
                with contextlib.suppress(Exception):  # closing a broken database may fail too
                    con.close()

    def _quarantine(self, exc: BaseException) -> None:
        """Move the corrupted directory aside, unless another process already replaced it."""
        try:
            st = self.path.stat()
        except OSError:
            return
        if (st.st_dev, st.st_ino) != self._identity:
            return  # someone else quarantined it and built a fresh one: use theirs
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        if target.exists():
            target = target.with_name(f"{target.name}-{os.getpid()}")
        try:
            self.path.rename(target)
        except OSError:
            return  # lost a race with another process: it moved it
        self._warn_once(
            "corrupt",
            f"cache: {self.path} was corrupted ({_reason(exc)}); moved it to {target.name} and started a fresh cache",
        )

    def _repair(self, exc: BaseException, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # another thread repaired it already
            self._generation += 1
            self._close_connections()
            self._quarantine(exc)
            try:
                self._identity = self._prepare()
            except Exception as again:
                self._off = True
                self._warn_once("off", f"cache: cannot rebuild {self.path} ({_reason(again)}); not caching")

    def _failed(self, exc: BaseException, doing: str, generation: int) -> None:
        dc = sys.modules.get("diskcache")
        if (dc is not None and isinstance(exc, dc.Timeout)) or "database is locked" in str(exc):
            if doing == "write":  # another process is writing: skip, and don't queue up behind it
                self._writes_paused_until = time.monotonic() + WRITE_BACKOFF
        elif isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            self._repair(exc, generation)  # file is not a database / disk image is malformed
        elif doing == "read" and "no such table" in str(exc):
            pass  # created but not initialised yet by its first writer: a miss
        elif doing == "write" and _is_disk_full(exc):
            self._warn_once("full", f"cache: disk full at {self.path}; new answers are not cached")
        elif doing == "write" and isinstance(exc, sqlite3.OperationalError | OSError):
            self._writes_off = True  # read-only database, unwritable files: stop trying
            self._warn_once("write", f"cache: cannot write {self.path} ({_reason(exc)}); not caching new answers")
        else:
            self._warn_once(doing, f"cache: {doing} failed at {self.path} ({_reason(exc)}); continuing")

    def _fetch(self, mode: object, filename: object, value: object) -> dict[str, Any] | None:
        if mode == _MODE_RAW:
            return _decode(value)
        if mode == _MODE_BINARY and isinstance(filename, str):
            name = Path(filename)
            if name.is_absolute() or ".." in name.parts:
                return None  # a tampered row pointing outside the cache
            try:
                return _decode((self.path / name).read_bytes())
            except OSError:
                return None  # evicted by another process meanwhile
        return None  # MODE_PICKLE (CVE-2025-69872) or text: never loaded

    def _store(self, key: str, value: Mapping[str, Any], expire: float | None) -> bool:
        if self._off or self._writes_off or time.monotonic() < self._writes_paused_until:
            return False
        try:
            blob = _encode(value)
        except (TypeError, ValueError) as exc:
            self._warn_once("encode", f"cache: not caching a value that is not a JSON object ({exc})")
            return False
        generation = self._generation
        try:
            with self._lock:
                dc = self._write_cache()
            if dc is None:
                return False
            dc.set(key, blob, expire=expire, retry=False)
        except Exception as exc:
            self._failed(exc, "write", generation)
            return False
        return True

    # ----------------------------------------------------------------------------------------- API
    def get(self, key: str) -> dict[str, Any] | None:
        if self._off:
            return None
        generation = self._generation
        try:
            with self._lock:
                con = self._read_con()
                rows = [] if con is None else con.execute(_SELECT, (key, time.time())).fetchall()
        except Exception as exc:
            self._failed(exc, "read", generation)
            return None
        return self._fetch(*rows[0]) if rows else None

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        self._store(key, value, float(ttl) if ttl else None)

    def restore(self, key: str, value: Mapping[str, Any], expire_at: float | None) -> bool:
        if expire_at is None:
            return self._store(key, value, None)
        remaining = expire_at - time.time()
        return remaining > 0 and self._store(key, value, remaining)

    def entries(self) -> Iterator[CacheEntry]:
        """Every live entry with a str key (pickled keys and values are skipped, never loaded)."""
        if self._off:
            return
        generation = self._generation
        try:
            with self._lock:
                con = self._read_con()
                rows = [] if con is None else con.execute(_SELECT_ALL, (time.time(),)).fetchall()
        except Exception as exc:
            self._failed(exc, "read", generation)
            return
        for key, expire_at, mode, filename, blob in rows:
            value = self._fetch(mode, filename, blob)
            if isinstance(key, str) and value is not None:
                yield key, value, expire_at

    def clear(self) -> int:
        """Remove every entry, and any `responses.corrupt-*` directories left by earlier repairs."""
        for old in self.path.parent.glob(f"{self.path.name}.corrupt-*"):
            shutil.rmtree(old, ignore_errors=True)
        if self._off:
            return 0
        generation = self._generation
        try:
            with self._lock:
                self._writes_paused_until = 0.0  # asked for explicitly: try even after a timeout
                dc = self._write_cache()
            return 0 if dc is None else int(dc.clear(retry=False))
        except Exception as exc:
            dc_module = sys.modules.get("diskcache")
            if dc_module is not None and isinstance(exc, dc_module.Timeout):
                self._warn_once("busy", f"cache: {self.path} is busy; cleared part of it, run again")
                return int(exc.args[0]) if exc.args else 0
            self._failed(exc, "clear", generation)
            return 0

    def info(self) -> dict[str, Any]:
        """`entries` counts expired entries not yet evicted; `bytes` is diskcache's volume estimate."""
        out: dict[str, Any] = {
            "backend": self.backend,
            "path": str(self.path),
            "entries": 0,
            "bytes": 0,
            "size_limit": self.size_limit,
            "ttl": self.ttl,
        }
        if self._off:
            out["reason"] = "the cache could not be repaired"
            return out
        generation = self._generation
        try:
            with self._lock:
                con = self._read_con()
                if con is not None:
                    stats = dict(con.execute("SELECT key, value FROM Settings WHERE key IN ('count', 'size')"))
                    (pages,) = con.execute("PRAGMA page_count").fetchone()
                    (page_size,) = con.execute("PRAGMA page_size").fetchone()
                    out["entries"] = int(stats.get("count", 0))
                    out["bytes"] = int(pages) * int(page_size) + int(stats.get("size", 0))
        except Exception as exc:
            self._failed(exc, "read", generation)
        return out

    def close(self) -> None:
        """Close the connections; a later call reopens them."""
        with self._lock:
            self._close_connections()


# ----------------------------------------------------------------------------------------- open
def open_cache(settings: Settings, warn: Warn) -> Cache:
    """The cache the settings ask for. Never raises for a cache fault: it warns once and returns
    a `NullCache` when the disk cache cannot be used.

    The redis backend (redis_backend.py, imported only here) keeps the disk cache as its fallback.
    """
    if settings.cache_backend == "memory":
        return MemoryCache(size_limit=settings.cache_size_limit, ttl=settings.cache_ttl, warn=warn)
    directory = settings.resolved_cache_dir / SUBDIR
    local: Cache
    try:
        local = DiskCache(directory, size_limit=settings.cache_size_limit, ttl=settings.cache_ttl, warn=warn)
    except OSError as exc:
        why = _reason(exc)
        shared = settings.cache_backend == "redis"
        warn(f"cache: cannot use {directory} ({why}); {'no local fallback' if shared else 'not caching'} this run")
        local = NullCache(why, directory, settings.cache_ttl)
    if settings.cache_backend == "redis":
        from .redis_backend import redis_cache

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
