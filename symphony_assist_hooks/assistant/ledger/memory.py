"""`MemoryLedger`: the budget ledger kept in this process's memory (budget.py holds the rules).

Day and month are this process's only, so it is for programs that embed the core, and for tests;
`open_ledger` never picks it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from ...errors import Warn
from .rules import RESERVATION_LIFETIME, Caps, Reservation, _BaseLedger, _Txn

__all__ = ["MemoryLedger"]


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
