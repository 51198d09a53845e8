"""The budget of one HTTP request: the server's shared ledger (day and month caps, for everyone) plus
`budget_run` as a per-request cap. A refusal is a BudgetError, answered 402 `budget_exceeded`."""

from __future__ import annotations

import threading
from typing import Any

from ..assistant.ledger import Ledger
from ..assistant.ledger.rules import Reservation, format_usd
from ..errors import BudgetError

__all__ = ["RequestLedger"]


class RequestLedger:
    """The server's shared ledger (day and month caps, for everyone) plus `budget_run` for one request."""

    def __init__(self, shared: Ledger, cap: int | None) -> None:
        self._shared = shared
        self._cap = cap
        self._spent = 0
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, amount: int) -> Reservation:
        with self._lock:
            held = sum(self._open.values())
            if self._cap is not None and amount > 0 and self._spent + held + amount > self._cap:
                raise BudgetError(
                    f"budget: per-request cap of {format_usd(self._cap)} reached "
                    f"(this call needs up to {format_usd(amount)})"
                )
            res = self._shared.reserve(amount)
            self._open[res.id] = res.amount
            return res

    def settle(self, res: Reservation, actual: int) -> None:
        self._shared.settle(res, actual)
        with self._lock:
            self._open.pop(res.id, None)
            self._spent += actual

    def release(self, res: Reservation) -> None:
        self._shared.release(res)
        with self._lock:
            self._open.pop(res.id, None)

    def status(self) -> dict[str, Any]:
        return self._shared.status()
