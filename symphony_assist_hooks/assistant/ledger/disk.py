"""`DiskLedger`: the budget ledger shared by every process using one directory (budget.py holds the rules).

`<directory>/ledger.db` is SQLite, one transaction per operation; a fault becomes `_Fault`, which the
ledger logic turns into BudgetError on `reserve` and a warning on `settle` and `release`.

Why raw sqlite3 with ``BEGIN IMMEDIATE`` and not diskcache for the disk ledger: a ledger needs sums
over outstanding reservations and several rows changed together, which are single SQL statements but
a read-modify-write of pickled blobs in diskcache. sqlite3 gives exact integer columns, a schema we
can version (`PRAGMA user_version`) and check (`PRAGMA quick_check`), no pickle anywhere
(CVE-2025-69872), and a bounded lock wait (`timeout`, used by SQLite's busy handler) instead of
diskcache's 60 s constructor retry. ``BEGIN IMMEDIATE`` takes the write lock at the start of the
transaction, which is exactly what `diskcache.Cache.transact()` does. WAL keeps `status()` readers
off the writers' lock; ``synchronous=FULL`` because a ledger commit must survive a power cut.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ...errors import BudgetError, Warn
from ..cache.disk import ensure_private_dir
from .rules import RESERVATION_LIFETIME, Caps, Reservation, _BaseLedger, _Fault, _Txn

__all__ = ["LOCK_TIMEOUT", "SCHEMA_VERSION", "DiskLedger"]

LOCK_TIMEOUT = 10.0  # seconds to wait for another process's ledger transaction
SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS spend (period TEXT PRIMARY KEY, micro INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS reservation (id TEXT PRIMARY KEY, micro INTEGER NOT NULL, day TEXT NOT NULL,"
    " month TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, expires_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
)


class _SqlTxn:
    def __init__(self, con: sqlite3.Connection) -> None:
        self._sql = con.execute

    def _one(self, query: str, *args: Any) -> Any:
        row = self._sql(query, args).fetchone()
        return None if row is None else row[0]

    def last_day(self) -> str | None:
        value = self._one("SELECT value FROM meta WHERE key = 'last_day'")
        return None if value is None else str(value)

    def set_last_day(self, day: str) -> None:
        self._sql("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_day', ?)", (day,))

    def spent(self, period: str) -> int:
        return int(self._one("SELECT micro FROM spend WHERE period = ?", period) or 0)

    def reserved(self, day: str | None = None, month: str | None = None) -> int:
        query = "SELECT COALESCE(SUM(micro), 0) FROM reservation WHERE day = ? OR month = ?"
        return int(self._one(query, day, month))

    def reservations(self) -> list[tuple[str, int, int, str, float]]:
        rows = self._sql("SELECT id, micro, pid, host, expires_at FROM reservation").fetchall()
        return [(str(a), int(b), int(c), str(d), float(e)) for a, b, c, d, e in rows]

    def add_reservation(self, res: Reservation, pid: int, host: str, expires_at: float) -> None:
        self._sql(
            "INSERT INTO reservation (id, micro, day, month, pid, host, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (res.id, res.amount, res.day, res.month, pid, host, expires_at),
        )

    def remove_reservation(self, rid: str) -> None:
        self._sql("DELETE FROM reservation WHERE id = ?", (rid,))

    def add_spend(self, period: str, amount: int) -> None:
        self._sql(
            "INSERT INTO spend (period, micro) VALUES (?, ?)"
            " ON CONFLICT (period) DO UPDATE SET micro = micro + excluded.micro",
            (period, amount),
        )

    def months(self) -> dict[str, int]:
        rows = self._sql("SELECT period, micro FROM spend WHERE length(period) = 7 ORDER BY period")
        return {str(p): int(m) for p, m in rows.fetchall()}


class DiskLedger(_BaseLedger):
    """The shared ledger: `<directory>/ledger.db`, one SQLite transaction per operation."""

    backend = "disk"

    def __init__(
        self,
        directory: Path,
        caps: Caps,
        *,
        warn: Warn,
        now: Callable[[], float] = time.time,
        lifetime: float = RESERVATION_LIFETIME,
        timeout: float = LOCK_TIMEOUT,
    ) -> None:
        super().__init__(caps, warn=warn, now=now, lifetime=lifetime)
        self.path = directory
        self.timeout = timeout
        self._con: sqlite3.Connection | None = None
        self._con_pid = 0

    def _unusable(self, fault: _Fault) -> BudgetError:
        if fault.busy:
            return BudgetError(
                f"budget ledger busy at {self.path}: another process held it for more than "
                f"{self.timeout:g} s; no paid call was made"
            )
        reason = fault.reason.lower()
        if any(word in reason for word in ("disk is full", "no space", "read-only", "readonly", "permission denied")):
            # The ledger is intact but cannot be written: removing it would forget the month's spend.
            return BudgetError(
                f"budget ledger at {self.path} cannot be written ({fault.reason}); no paid call was made. "
                "Free disk space or fix the directory's permissions"
            )
        if blocking := _file_in_the_way(self.path):
            where = "" if blocking == self.path else f" in {self.path}"
            return BudgetError(
                f"budget ledger cannot be made{where}: {blocking} is a file, not a directory; no paid call was "
                "made. Point SYMPHONY_ASSIST_CACHE_DIR at a directory, or move the file"
            )
        return BudgetError(
            f"budget ledger unreadable at {self.path}: {fault.reason}; no paid call was made. "
            "Remove the directory to reset it"
        )

    def _connect(self) -> sqlite3.Connection:
        if self._con is not None and self._con_pid == os.getpid():
            return self._con
        self._con = None  # a connection inherited through fork is not ours to use
        assert self.path is not None
        ensure_private_dir(self.path, self._warn)
        # Opening a fresh ledger while other processes do too can fail with "database is locked" at
        # once: switching to WAL (and WAL recovery) returns SQLITE_BUSY without calling the busy
        # handler. Retry the whole opening within the same bound as any lock wait.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                con = self._open_database()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005 + random.random() * 0.02)  # noqa: S311 - jitter, not security
                continue
            self._con, self._con_pid = con, os.getpid()
            return con

    def _open_database(self) -> sqlite3.Connection:
        assert self.path is not None
        con = sqlite3.connect(
            self.path / "ledger.db", timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = FULL")
            (check,) = con.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed ({check})")
            (version,) = con.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"written by a newer symphony-assist (schema {version})")
            if version < SCHEMA_VERSION:
                con.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    con.execute(statement)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                con.execute("COMMIT")
        except BaseException:
            con.close()
            raise
        return con

    def _fault(self, exc: BaseException) -> _Fault:
        if self._con is not None:
            with contextlib.suppress(sqlite3.Error):
                self._con.close()
        self._con = None
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return _Fault(str(exc), busy=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return _Fault(reason or type(exc).__name__)

    @contextlib.contextmanager
    def _txn(self, write: bool = True) -> Iterator[_Txn]:
        try:
            con = self._connect()
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except (sqlite3.Error, OSError) as exc:
            raise self._fault(exc) from None
        try:
            yield _SqlTxn(con)
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error | OSError):
                raise self._fault(exc) from None
            raise
        try:
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise self._fault(exc) from None

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._con.close()
                self._con = None


def _file_in_the_way(path: Path | None) -> Path | None:
    """The first of `path` and its parents that exists and is not a directory (the ledger's folder cannot be
    made under it), or None."""
    for candidate in [path, *path.parents] if path is not None else []:
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None
