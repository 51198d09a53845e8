"""What every budget ledger shares (budget.py holds the rules): the money, period and reservation
values, and `_BaseLedger`, the reserve/settle/release/status logic over a storage transaction (`_Txn`).

The storage is a subclass's: memoryledger.py (a dict), diskledger.py (SQLite). The redis ledger runs
the same rules as Lua scripts and borrows only the values and helpers here.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ...errors import BudgetError, Warn

if TYPE_CHECKING:
    from ...config import Settings

__all__ = [
    "MICRO",
    "RESERVATION_LIFETIME",
    "Caps",
    "Reservation",
    "close_reservation",
    "format_usd",
    "over_cap",
    "periods",
    "pid_alive",
]

MICRO = 1_000_000  # micro-dollars per USD
RESERVATION_LIFETIME = 600.0  # seconds before another process may reclaim a reservation


@dataclass(frozen=True)
class Reservation:
    """Money set aside for one call, in the UTC periods it was reserved in."""

    id: str
    amount: int  # micro-dollars
    day: str  # YYYY-MM-DD (UTC)
    month: str  # YYYY-MM (UTC)


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


def pid_alive(pid: int) -> bool:
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
            if expires_at <= now or (owner_host == host and pid != me and not pid_alive(pid)):
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
            refusal = over_cap("monthly", caps.month, tx.spent(month), tx.reserved(month=month), amount)
            if refusal is not None:
                return refusal
        if caps.day is not None:
            refusal = over_cap("daily", caps.day, tx.spent(day), tx.reserved(day=day), amount)
            if refusal is not None:
                return refusal
        if caps.run is not None:
            in_flight = sum(r.amount for r in self._open.values())
            return over_cap("run", caps.run, self._run_spent, in_flight, amount)
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


def over_cap(name: str, cap: int, spent: int, reserved: int, amount: int) -> str | None:
    if spent + reserved + amount <= cap:
        return None
    in_flight = f", {format_usd(reserved)} reserved by calls in flight" if reserved else ""
    return (
        f"budget: {name} cap of {format_usd(cap)} reached "
        f"(spent {format_usd(spent)}{in_flight}, this call needs up to {format_usd(amount)})"
    )
