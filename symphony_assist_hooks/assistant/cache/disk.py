"""The default cache backend: `DiskCache`, answers in diskcache's database under `<cache dir>/responses`.

* Never pickle (CVE-2025-69872, GHSA-w8v5-vhqr-4h9v). Values are stored as zlib-compressed JSON
  bytes (codec.py), which diskcache keeps raw. The reads below only decode rows in raw or binary-file
  mode, and the `Disk` subclass given to diskcache (disk_writer.py) refuses to store anything but bytes
  and returns a miss for a row in pickle mode, so a planted pickle is never loaded. Keys are `str`
  (stored raw, never pickled).
* The directory is created 0700; a group/world-writable one we own is tightened to 0700, one owned by
  another user is refused (no caching).
* A hit reads diskcache's table through one query-only SQLite connection (~0.3 ms to open, ~10 µs a
  get) and imports no diskcache; diskcache is opened through its public API on the first write
  (disk_writer.py, imported then). Reads never wait for writers (SQLite WAL).
* Locks are short (`LOCK_TIMEOUT`): a write that cannot get the lock is skipped and further writes pause
  for `WRITE_BACKOFF` seconds, so a busy or stuck writer elsewhere never stalls a commit. Opening
  diskcache is bounded by the same timeout: its constructor otherwise retries a locked database for
  up to 60 s (docs/reference.md#local-state).
* A corrupted database (`sqlite3.DatabaseError`, on any read or write) is moved aside to
  `responses.corrupt-<UTC timestamp>` with one warning, and a fresh cache is built.
* A database that refuses writes (read-only) keeps serving hits and stops writing, with one warning.
  A full disk skips writes with one warning; reads keep working. (An unusable directory raises
  OSError from the constructor: `open_cache` turns it into a `NullCache`.)
* Eviction is diskcache's default least-recently-stored: a hit is a pure read (least-recently-used
  would turn every hit into a write, 4-5x slower; docs/reference.md#cache-storage).

This module imports only the standard library and codec.py: it is on every hit's import path.

Why the hit path reads diskcache's database instead of calling `diskcache.Cache(dir).get`: its public
API cannot meet a hit's needs. Measured on the 2-core development machine (a 200-entry cache, fresh
interpreters, medians of 5):
* Cost: in the process of a cached review, which already imports json, sqlite3 and re, `import diskcache`
  adds 4.9 ms (pickle, pickletools, its recipes and a probe for Django) and the constructor 4-5 ms,
  because it writes its Settings table (18 autocommit writes) on every open: ~10 ms per cache a run
  opens, three on a review (answers, redaction memo, scan memo), against ~0.3 ms here.
* A hit would wait for writers: those writes need the write lock, and the constructor retries 'database
  is locked' for 60 s whatever its timeout (a process holding the lock for 3 s made it wait 3.02 s);
  the read here never waits (WAL).
* A read-only cache could not serve hits: on a read-only file system the constructor fails ('unable to
  open database file': it must create the -wal/-shm files); the read here falls back to SQLite's
  immutable mode and keeps answering.
So the read side is this small module, reading the format diskcache 5.6 writes: the `Cache` and `Settings`
tables, raw rows and value files. It checks that format once per connection (the tables' columns, one
query); a database in any other format (a future diskcache) is read through diskcache's public API
instead, slower but correct. Every write goes through diskcache's public API (disk_writer.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import Warn
from .codec import decode, encode
from .directory import announce_change, ensure_private_dir, generation_file

if TYPE_CHECKING:
    from . import CacheEntry

__all__ = ["LOCK_TIMEOUT", "WRITE_BACKOFF", "DiskCache", "ensure_private_dir", "generation_file"]

LOCK_TIMEOUT = 1.0  # seconds a cache operation may wait for another process's write lock
WRITE_BACKOFF = 5.0  # seconds writes are skipped after a lock timeout


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _is_disk_full(exc: BaseException) -> bool:
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "full" in str(exc)


# The storage format diskcache 5.6 writes, read directly on the hit path; checked per connection (_FORMAT).
_DBNAME = "cache.db"
_MODE_RAW = 1  # value held in the row
_MODE_BINARY = 2  # value held in a file under the directory; MODE_PICKLE (4) is never read
_SELECT = (
    "SELECT mode, filename, value, expire_time FROM Cache"
    " WHERE key = ? AND raw = 1 AND (expire_time IS NULL OR expire_time > ?)"
)
# The columns of the tables read here, as diskcache 5.6 creates them; any other layout is read through
# diskcache's public API (`_foreign`).
_FORMAT_QUERY = (
    "SELECT m.name, p.name, p.type FROM sqlite_master AS m, pragma_table_info(m.name) AS p"
    " WHERE m.type = 'table' AND m.name IN ('Cache', 'Settings') ORDER BY m.name, p.cid"
)
_FORMAT = (
    *(("Cache", name, kind) for name, kind in (
        ("rowid", "INTEGER"), ("key", "BLOB"), ("raw", "INTEGER"), ("store_time", "REAL"),
        ("expire_time", "REAL"), ("access_time", "REAL"), ("access_count", "INTEGER"), ("tag", "BLOB"),
        ("size", "INTEGER"), ("mode", "INTEGER"), ("filename", "TEXT"), ("value", "BLOB"),
    )),
    ("Settings", "key", "TEXT"),
    ("Settings", "value", ""),
)  # fmt: skip
_SELECT_ALL = (
    "SELECT key, expire_time, mode, filename, value FROM Cache"
    " WHERE raw = 1 AND (expire_time IS NULL OR expire_time > ?) ORDER BY rowid"
)


class DiskCache:
    """The default backend: diskcache's database in `directory`.

    Reads (`get`, `info`, `entries`) query diskcache's `Cache` table through one query-only SQLite
    connection: a hit opens in ~0.3 ms, reads in ~10 µs and imports no diskcache. diskcache itself,
    whose constructor rewrites its Settings table on every open, is opened on the first `set` or
    `clear`, or for reads when the database is not in the format read here (see the module docstring).

    The constructor only prepares the directory; it raises OSError when the directory cannot be used
    (`open_cache` turns that into a `NullCache`). Thread-safe.
    """

    backend: str = "disk"

    def __init__(
        self,
        directory: Path,
        *,
        size_limit: int,
        ttl: int,
        warn: Warn,
        timeout: float = LOCK_TIMEOUT,
        announce: bool = True,
    ) -> None:
        """`announce=False`: no generation file (a memo no kept review depends on)."""
        self.path = directory
        self._announce = announce
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
        self._foreign = False  # the database is not in the format read here: read through diskcache
        self.earliest_expiry: float | None = None  # the soonest expiry among the hits served (replay.py)
        self._identity = self._prepare()

    # ------------------------------------------------------------------------------------- internals
    def _prepare(self) -> tuple[int, int]:
        ensure_private_dir(self.path, self._warn)
        st = self.path.stat()
        return st.st_dev, st.st_ino

    def _read_con(self) -> sqlite3.Connection | None:
        """The query-only connection, or None while no database exists yet or it is in another format
        (caller holds the lock)."""
        if self._reader is not None and self._reader_pid == os.getpid():
            return self._reader
        if self._foreign:
            return None
        self._reader = None  # a connection inherited through fork is not ours to use
        db = self.path / _DBNAME
        if not db.exists():
            return None
        base = db.absolute().as_uri()
        con = sqlite3.connect(
            base + "?mode=rw",  # rw: never create a stray empty database
            uri=True, timeout=self.timeout, isolation_level=None, check_same_thread=False,
        )  # fmt: skip
        try:
            con.execute("PRAGMA query_only = 1")
            con.execute("SELECT 1 FROM Cache LIMIT 1").fetchall()  # opens the WAL: needs -wal/-shm files
        except sqlite3.OperationalError as exc:
            # A full or read-only file system cannot create -wal/-shm: read the database as an
            # immutable file instead (no locks, no WAL). Answers are still served; writes are off.
            con.close()
            if "no such table" in str(exc):
                raise
            con = sqlite3.connect(
                base + "?mode=ro&immutable=1", uri=True, isolation_level=None, check_same_thread=False
            )
            con.execute("PRAGMA query_only = 1")
        if tuple(con.execute(_FORMAT_QUERY).fetchall()) != _FORMAT:
            con.close()  # written by a diskcache whose format is not the one read here
            self._foreign = True
            return None
        self._reader, self._reader_pid = con, os.getpid()
        return con

    def _public(self) -> Any:
        """diskcache.Cache for reading a database in another format, or None while it cannot be opened
        (lock held)."""
        return self._write_cache() if self._foreign else None

    def _write_cache(self) -> Any:
        """diskcache.Cache on the directory, or None while writes are off or paused (lock held)."""
        if self._writer is not None:
            return self._writer
        if self._off or self._writes_off:
            return None
        from .disk_writer import open_writer  # imports diskcache (~5 ms): writes, never a hit in our format

        self._writer = open_writer(str(self.path), size_limit=self.size_limit, timeout=self.timeout)
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

    def _changing(self) -> None:
        """Announce a change to this cache (see `generation_file`), before it and again after it: a run
        that read the old answer while the change was being made sees a new token either way. Atomic
        (a reader never sees half a token); never fails the change."""
        if self._announce:
            announce_change(self.path)

    def _repair(self, exc: BaseException, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # another thread repaired it already
            self._changing()
            self._generation += 1
            self._close_connections()
            self._foreign = False
            self._quarantine(exc)
            self._changing()
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
            return decode(value)
        if mode == _MODE_BINARY and isinstance(filename, str):
            name = Path(filename)
            if name.is_absolute() or ".." in name.parts:
                return None  # a tampered row pointing outside the cache
            try:
                return decode((self.path / name).read_bytes())
            except OSError:
                return None  # evicted by another process meanwhile
        return None  # MODE_PICKLE (CVE-2025-69872) or text: never loaded

    def _store(
        self, key: str, value: Mapping[str, Any], expire: float | None, *, expire_at: float | None = None
    ) -> bool:
        """Write one entry; `expire` seconds from now, or until the absolute `expire_at` (turned into
        seconds only once the writer is open: opening it on a first write takes 10-50 ms)."""
        if self._off or self._writes_off or time.monotonic() < self._writes_paused_until:
            return False
        try:
            blob = encode(value)
        except (TypeError, ValueError) as exc:
            self._warn_once("encode", f"cache: not caching a value that is not a JSON object ({exc})")
            return False
        generation = self._generation
        try:
            with self._lock:
                dc = self._write_cache()
            if dc is None:
                return False
            if expire_at is not None:
                expire = expire_at - time.time()
                if expire <= 0:
                    return False
            self._changing()
            try:
                dc.set(key, blob, expire=expire, retry=False)
            finally:
                self._changing()
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
                if con is not None:
                    rows = con.execute(_SELECT, (key, time.time())).fetchall()
                elif (dc := self._public()) is not None:
                    blob, expire_at = dc.get(key, default=None, expire_time=True, retry=False)
                    rows = [] if blob is None else [(_MODE_RAW, None, blob, expire_at)]
                else:
                    rows = []
        except Exception as exc:
            self._failed(exc, "read", generation)
            return None
        if not rows:
            return None
        mode, filename, value, expire_at = rows[0]
        found = self._fetch(mode, filename, value)
        if found is not None and isinstance(expire_at, int | float):
            self.earliest_expiry = min(self.earliest_expiry or expire_at, expire_at)
        return found

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        self._store(key, value, float(ttl) if ttl else None)

    def restore(self, key: str, value: Mapping[str, Any], expire_at: float | None) -> bool:
        if expire_at is not None and expire_at <= time.time():
            return False
        return self._store(key, value, None, expire_at=expire_at)

    def entries(self) -> Iterator[CacheEntry]:
        """Every live entry with a str key (pickled keys and values are skipped, never loaded)."""
        if self._off:
            return
        generation = self._generation
        try:
            with self._lock:
                con = self._read_con()
                if con is not None:
                    rows = con.execute(_SELECT_ALL, (time.time(),)).fetchall()
                elif (dc := self._public()) is not None:
                    rows = []
                    for key in dc.iterkeys():  # a pickled key comes back as bytes (SafeDisk): skipped below
                        blob, expire_at = dc.get(key, default=None, expire_time=True, retry=False)
                        if blob is not None:
                            rows.append((key, expire_at, _MODE_RAW, None, blob))
                else:
                    rows = []
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
            self._changing()
            try:
                return 0 if dc is None else int(dc.clear(retry=False))
            finally:
                self._changing()
        except Exception as exc:
            dc_module = sys.modules.get("diskcache")
            if dc_module is not None and isinstance(exc, dc_module.Timeout):
                self._warn_once("busy", f"cache: {self.path} is busy; cleared part of it, run again")
                removed = exc.args[0] if exc.args else 0  # clear() says how many it removed; opening says why
                return removed if isinstance(removed, int) else 0
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
                elif (dc := self._public()) is not None:
                    out["entries"] = len(dc)
                    out["bytes"] = int(dc.volume())
        except Exception as exc:
            self._failed(exc, "read", generation)
        return out

    def close(self) -> None:
        """Close the connections; a later call reopens them."""
        with self._lock:
            self._close_connections()
