"""The budget ledger: reserve the worst case before a paid call, settle the real cost after it.

Money is integer micro-dollars (1 USD = 1_000_000): sums stay exact across processes and months.

Three caps (`Settings.budget_run`, `budget_daily`, `budget_monthly`, USD, None = no cap):

* run: this `Ledger` object's own spend (one process or session);
* day (UTC `YYYY-MM-DD`) and month (UTC `YYYY-MM`): shared by every process using the ledger directory.

`reserve(amount)` grants a reservation only if, for every capped period,
``committed + outstanding reservations + amount <= cap``, all checked in one atomic transaction, so
parallel pre-commit hooks and pytest-xdist workers can never overspend together (a get-then-set
ledger overspent 2.6-5.3x in docs/reference.md#budget-ledger). `settle(res, actual)` removes the reservation and
adds the real cost to the periods *it was reserved in*: a call reserved on Jan 31 23:59:59 UTC is
January's, whenever its answer arrives. `release(res)` removes it without cost. A `0` amount (a free
model) is always granted.

Faults (docs/reference.md#local-state):

* A reservation carries its owner's pid, host and an expiry. Each `reserve` first sweeps reservations
  that expired or whose owner process on this host is gone (kill -9), so a crash under-uses the budget
  only until then and never blocks it forever.
* The clock may go backwards (NTP step, VM resume): the ledger keeps the latest day it has seen and
  never charges an earlier period, so a closed month cannot be reopened.
* An unreadable, corrupted, unwritable or full ledger fails closed: `reserve` raises `BudgetError`
  and no paid call is made. Spend that cannot be proven under the cap is not spent. `settle` and
  `release` never raise for ledger faults (the call already happened); they warn instead.

The values and the reserve/settle logic every ledger shares are in ledgerbase.py; the storages are
memoryledger.py (`MemoryLedger`), diskledger.py (`DiskLedger`, SQLite, and why not diskcache) and
redis/ledger.py (`RedisLedger`). This module is their face: the `Ledger` protocol and `open_ledger`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ...errors import Warn
from .disk import DiskLedger
from .rules import RESERVATION_LIFETIME, Caps, Reservation

if TYPE_CHECKING:
    from ...config import Settings

__all__ = [
    "Ledger",
    "open_ledger",
]

SUBDIR = "ledger"


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
        from .redis import redis_ledger  # deferred: the team backend (the redis client behind it)

        return redis_ledger(settings, caps, warn=warn, now=now, lifetime=lifetime)
    # The memory backend keeps answers off the disk, but never the budget: a cap that forgets its
    # spend at exit would not be a cap. MemoryLedger is for programs that embed the core and tests.
    directory = settings.resolved_cache_dir / SUBDIR
    return DiskLedger(directory, caps, warn=warn, now=now or time.time, lifetime=lifetime)
