"""The budget ledger: reserve the worst case before a paid call, settle the real cost after it.

Money is integer micro-dollars (1 USD = 1_000_000): sums stay exact across processes and months.

Three caps (`Settings.budget_run`, `budget_daily`, `budget_monthly`, USD, None = no cap):

* run: this `Ledger` object's own spend (one process or session);
* day (UTC `YYYY-MM-DD`) and month (UTC `YYYY-MM`): shared by every process using the ledger directory.

`reserve(amount)` grants a reservation only if, for every capped period,
``committed + outstanding reservations + amount <= cap``, all checked in one atomic transaction, so
parallel pre-commit hooks and pytest-xdist workers can never overspend together (a get-then-set
ledger overspent 2.6-5.3x in RELIABILITY.md §0.6). `settle(res, actual)` removes the reservation and
adds the real cost to the periods *it was reserved in*: a call reserved on Jan 31 23:59:59 UTC is
January's, whenever its answer arrives. `release(res)` removes it without cost. A `0` amount (a free
model) is always granted.

Faults (RELIABILITY.md §6.2):

* A reservation carries its owner's pid, host and an expiry. Each `reserve` first sweeps reservations
  that expired or whose owner process on this host is gone (kill -9), so a crash under-uses the budget
  only until then and never blocks it forever.
* The clock may go backwards (NTP step, VM resume): the ledger keeps the latest day it has seen and
  never charges an earlier period, so a closed month cannot be reopened.
* An unreadable, corrupted, unwritable or full ledger fails closed: `reserve` raises `BudgetError`
  and no paid call is made. Spend that cannot be proven under the cap is not spent. `settle` and
  `release` never raise for ledger faults (the call already happened); they warn instead.

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
import functools
import os
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BudgetError
from .diskstore import ensure_private_dir

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "LOCK_TIMEOUT",
    "MICRO",
    "RESERVATION_LIFETIME",
    "Caps",
    "DiskLedger",
    "Ledger",
    "MemoryLedger",
    "Reservation",
    "format_usd",
    "open_ledger",
    "periods",
]

MICRO = 1_000_000  # micro-dollars per USD
RESERVATION_LIFETIME = 600.0  # seconds before another process may reclaim a reservation
LOCK_TIMEOUT = 10.0  # seconds to wait for another process's ledger transaction
SUBDIR = "ledger"
SCHEMA_VERSION = 1

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Reservation:
    """Money set aside for one call, in the UTC periods it was reserved in."""

    id: str
    amount: int  # micro-dollars
    day: str  # YYYY-MM-DD (UTC)
    month: str  # YYYY-MM (UTC)


class Ledger(Protocol):
    """Reserve before a paid call, then settle or release. See the module docstring."""

    def reserve(self, amount: int) -> Reservation:
        """Set aside `amount` micro-dollars, or raise BudgetError (a cap, or a ledger fault)."""
        ...

    def settle(self, res: Reservation, actual: int) -> None:
        """Replace the reservation by the real cost. ValueError if it is not open."""
        ...

    def release(self, res: Reservation) -> None:
        """Drop the reservation at no cost; a no-op if it is already closed."""
        ...

    def status(self) -> dict[str, Any]:
        """Spend, reservations and caps (micro-dollars) for the run, today and this month."""
        ...


@dataclass(frozen=True)
class Caps:
    """Caps in micro-dollars; None = no cap."""

    run: int | None = None
    day: int | None = None
    month: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Caps:
        def micro(usd: float | None) -> int | None:
            return None if usd is None else round(usd * MICRO)

        return cls(micro(settings.budget_run), micro(settings.budget_daily), micro(settings.budget_monthly))


def format_usd(micro: int) -> str:
    """`$10.00`; amounts under a cent keep their digits (`$0.0003`) so they never read as `$0.00`."""
    if micro == 0 or abs(micro) >= 10_000:
        return f"${micro / MICRO:.2f}"
    return "$" + f"{micro / MICRO:.6f}".rstrip("0")


def periods(ts: float) -> tuple[str, str]:
    """(UTC day `YYYY-MM-DD`, UTC month `YYYY-MM`) of an epoch timestamp."""
    day = time.strftime("%Y-%m-%d", time.gmtime(ts))
    return day, day[:7]


@functools.cache
def _hostname() -> str:
    import socket

    return socket.gethostname()


def _pid_alive(pid: int) -> bool:
    """False only when we know the process is gone (or a zombie); unknown counts as alive."""
    if pid <= 0 or sys.platform == "win32":  # os.kill(pid, 0) would terminate it on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: it exists, under another user
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


class _Fault(Exception):
    """The ledger's storage failed; `busy` when it was only a lock timeout."""

    def __init__(self, reason: str, busy: bool = False) -> None:
        reason = " ".join(reason.split())  # SQLite reports may span lines; messages are one line
        if len(reason) > 200:
            reason = reason[:199] + "…"
        super().__init__(reason)
        self.reason = reason
        self.busy = busy


class _Txn(Protocol):
    """The storage operations the ledger logic needs, inside one transaction."""

    def last_day(self) -> str | None: ...
    def set_last_day(self, day: str) -> None: ...
    def spent(self, period: str) -> int: ...
    def reserved(self, day: str | None = None, month: str | None = None) -> int: ...
    def reservations(self) -> list[tuple[str, int, int, str, float]]: ...  # id, amount, pid, host, expires
    def add_reservation(self, res: Reservation, pid: int, host: str, expires_at: float) -> None: ...
    def remove_reservation(self, rid: str) -> None: ...
    def add_spend(self, period: str, amount: int) -> None: ...
    def months(self) -> dict[str, int]: ...


def close_reservation(open_: dict[str, Reservation], res: Reservation, actual: int) -> int:
    """What every ledger's `settle` checks first: the cost is not negative and the reservation is still
    open in this run (it is then closed). Returns `actual`, this run's spend to add. ValueError otherwise."""
    if actual < 0:
        raise ValueError(f"a cost cannot be negative ({actual})")
    if open_.pop(res.id, None) is None:
        raise ValueError(f"reservation {res.id} is already settled or released")
    return actual


class _BaseLedger:
    """The ledger logic over a storage transaction (`_txn`) supplied by a subclass."""

    backend = "?"
    path: Path | None = None

    def __init__(self, caps: Caps, *, warn: Warn, now: Callable[[], float], lifetime: float) -> None:
        self.caps = caps
        self._warn = warn
        self._now = now
        self._lifetime = lifetime
        self._lock = threading.RLock()
        self._open: dict[str, Reservation] = {}  # this run's reservations, by id
        self._run_spent = 0

    def _txn(self, write: bool = True) -> contextlib.AbstractContextManager[_Txn]:
        raise NotImplementedError

    def _unusable(self, fault: _Fault) -> BudgetError:
        return BudgetError(f"budget ledger unreadable: {fault.reason}; no paid call was made")

    # --------------------------------------------------------------------------------------- logic
    def _period(self, tx: _Txn, now: float, *, write: bool) -> tuple[str, str]:
        day, _ = periods(now)
        last = tx.last_day()
        if last is not None and last > day:  # the clock went back: stay in the latest period seen
            day = last
        elif write and last != day:
            tx.set_last_day(day)
        return day, day[:7]

    def _sweep(self, tx: _Txn, now: float) -> tuple[int, int] | None:
        """Drop reservations that expired or whose process on this host is gone: (count, amount)."""
        me, host = os.getpid(), _hostname()
        freed = count = 0
        for rid, amount, pid, owner_host, expires_at in tx.reservations():
            if rid in self._open:
                continue  # ours and still in flight
            if expires_at <= now or (owner_host == host and pid != me and not _pid_alive(pid)):
                tx.remove_reservation(rid)
                freed += amount
                count += 1
        return (count, freed) if count else None

    def reserve(self, amount: int) -> Reservation:
        if amount < 0:
            raise ValueError(f"a reservation cannot be negative ({amount})")
        now = self._now()
        with self._lock:
            try:
                with self._txn() as tx:
                    swept = self._sweep(tx, now)
                    day, month = self._period(tx, now, write=True)
                    refusal = self._check(tx, amount, day, month) if amount > 0 else None
                    res = Reservation(os.urandom(12).hex(), amount, day, month)
                    if refusal is None:
                        tx.add_reservation(res, os.getpid(), _hostname(), now + self._lifetime)
                # The sweep and the period marker are committed even when a cap refuses.
            except _Fault as fault:
                raise self._unusable(fault) from None
            if swept:
                self._warn(
                    f"budget: released {format_usd(swept[1])} held by {swept[0]} unfinished call(s) "
                    "(their process is gone or the reservation expired)"
                )
            if refusal is not None:
                raise BudgetError(refusal)
            self._open[res.id] = res
        return res

    def _check(self, tx: _Txn, amount: int, day: str, month: str) -> str | None:
        """Why `amount` does not fit (the longest capped period it overflows), or None if it fits."""
        caps = self.caps
        if caps.month is not None:
            refusal = _over("monthly", caps.month, tx.spent(month), tx.reserved(month=month), amount)
            if refusal is not None:
                return refusal
        if caps.day is not None:
            refusal = _over("daily", caps.day, tx.spent(day), tx.reserved(day=day), amount)
            if refusal is not None:
                return refusal
        if caps.run is not None:
            in_flight = sum(r.amount for r in self._open.values())
            return _over("run", caps.run, self._run_spent, in_flight, amount)
        return None

    def settle(self, res: Reservation, actual: int) -> None:
        with self._lock:
            self._run_spent += close_reservation(self._open, res, actual)
            try:
                with self._txn() as tx:
                    tx.remove_reservation(res.id)
                    if actual:
                        tx.add_spend(res.day, actual)
                        tx.add_spend(res.month, actual)
            except _Fault as fault:
                self._warn(
                    f"budget: could not record {format_usd(actual)} spent ({fault.reason}); "
                    "the shared ledger under-counts this call"
                )

    def release(self, res: Reservation) -> None:
        with self._lock:
            if self._open.pop(res.id, None) is None:
                return
            try:
                with self._txn() as tx:
                    tx.remove_reservation(res.id)
            except _Fault as fault:
                self._warn(f"budget: could not release a reservation ({fault.reason}); it will expire")

    def status(self) -> dict[str, Any]:
        """{backend, path, run, day, month, months}; run/day/month = {spent, reserved, cap} (+ period).

        `months` maps every recorded month to its spend. Raises BudgetError if the ledger is unusable.
        """
        now = self._now()
        with self._lock:
            try:
                with self._txn(write=False) as tx:
                    day, month = self._period(tx, now, write=False)
                    return {
                        "backend": self.backend,
                        "path": str(self.path) if self.path is not None else None,
                        "run": {
                            "spent": self._run_spent,
                            "reserved": sum(r.amount for r in self._open.values()),
                            "cap": self.caps.run,
                        },
                        "day": {
                            "period": day,
                            "spent": tx.spent(day),
                            "reserved": tx.reserved(day=day),
                            "cap": self.caps.day,
                        },
                        "month": {
                            "period": month,
                            "spent": tx.spent(month),
                            "reserved": tx.reserved(month=month),
                            "cap": self.caps.month,
                        },
                        "months": tx.months(),
                    }
            except _Fault as fault:
                raise self._unusable(fault) from None

    def close(self) -> None:
        """Release the storage. Open reservations stay until they expire or this process exits."""


def _over(name: str, cap: int, spent: int, reserved: int, amount: int) -> str | None:
    if spent + reserved + amount <= cap:
        return None
    in_flight = f", {format_usd(reserved)} reserved by calls in flight" if reserved else ""
    return (
        f"budget: {name} cap of {format_usd(cap)} reached "
        f"(spent {format_usd(spent)}{in_flight}, this call needs up to {format_usd(amount)})"
    )


# ------------------------------------------------------------------------------------------ memory
class _MemoryState:
    def __init__(self) -> None:
        self.spend: dict[str, int] = {}
        self.reservations: dict[str, tuple[Reservation, int, str, float]] = {}
        self.last_day: str | None = None


class _MemoryTxn:
    def __init__(self, state: _MemoryState) -> None:
        self._s = state

    def last_day(self) -> str | None:
        return self._s.last_day

    def set_last_day(self, day: str) -> None:
        self._s.last_day = day

    def spent(self, period: str) -> int:
        return self._s.spend.get(period, 0)

    def reserved(self, day: str | None = None, month: str | None = None) -> int:
        return sum(r.amount for r, *_ in self._s.reservations.values() if r.day == day or r.month == month)

    def reservations(self) -> list[tuple[str, int, int, str, float]]:
        return [(r.id, r.amount, pid, host, exp) for r, pid, host, exp in self._s.reservations.values()]

    def add_reservation(self, res: Reservation, pid: int, host: str, expires_at: float) -> None:
        self._s.reservations[res.id] = (res, pid, host, expires_at)

    def remove_reservation(self, rid: str) -> None:
        self._s.reservations.pop(rid, None)

    def add_spend(self, period: str, amount: int) -> None:
        self._s.spend[period] = self._s.spend.get(period, 0) + amount

    def months(self) -> dict[str, int]:
        return {p: v for p, v in sorted(self._s.spend.items()) if len(p) == 7}


class MemoryLedger(_BaseLedger):
    """A per-process ledger (the memory backend, tests): day and month are this process's only."""

    backend = "memory"

    def __init__(
        self,
        caps: Caps,
        *,
        warn: Warn,
        now: Callable[[], float] = time.time,
        lifetime: float = RESERVATION_LIFETIME,
    ) -> None:
        super().__init__(caps, warn=warn, now=now, lifetime=lifetime)
        self._state = _MemoryState()

    @contextlib.contextmanager
    def _txn(self, write: bool = True) -> Iterator[_Txn]:
        yield _MemoryTxn(self._state)


# -------------------------------------------------------------------------------------------- disk
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
                "Free disk space or fix the directory's permissions."
            )
        return BudgetError(
            f"budget ledger unreadable at {self.path}: {fault.reason}; no paid call was made. "
            "Remove the directory to reset it."
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


def open_ledger(settings: Settings, *, warn: Warn, now: Callable[[], float] | None = None) -> Ledger:
    """The ledger for these settings. Never raises: a broken ledger shows up as BudgetError on reserve.

    The disk ledger lives in `<cache dir>/ledger`; the redis backend's is shared on the Redis server
    (redis_backend.py, imported only here) and follows its clock unless `now` is given. A reservation
    may be reclaimed by another process after `max(RESERVATION_LIFETIME, 2 * settings.deadline)`
    seconds, or at once if its process is gone.
    """
    caps = Caps.from_settings(settings)
    lifetime = max(RESERVATION_LIFETIME, 2 * settings.deadline)
    if settings.cache_backend == "redis":
        from .redis.ledger import redis_ledger

        return redis_ledger(settings, caps, warn=warn, now=now, lifetime=lifetime)
    # The memory backend keeps answers off the disk, but never the budget: a cap that forgets its
    # spend at exit would not be a cap. MemoryLedger is for programs that embed the core and tests.
    directory = settings.resolved_cache_dir / SUBDIR
    return DiskLedger(directory, caps, warn=warn, now=now or time.time, lifetime=lifetime)
