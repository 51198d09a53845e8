"""Progress events of a long run: the core's side (#11).

The Assistant reports `Tick`s through a plain `ProgressCallback`, only on the miss path (a run whose
items all hit the cache never builds a `Tracker`). Drawing them is the adapters' business:
`terminal/progressline.Progress` renders Ticks on stderr. Stdlib only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

__all__ = ["ProgressCallback", "Tick", "Tracker"]


@dataclass(frozen=True)
class Tick:
    """The state of one request's items after something happened."""

    total: int  # items in the request
    done: int  # answered so far: from the cache, the service, or handed to the local fallback
    cached: int  # of which from the cache
    spent_micro: int  # spent on this request so far (micro-dollars)
    sending: tuple[str, ...] = ()  # labels of the items in the latest request still in flight
    local: int = 0  # of the done items, those the service did not answer (they fall back locally)
    finished: bool = False


ProgressCallback = Callable[[Tick], None]


class Tracker:
    """The Assistant's side: counts one request's items and sends Ticks. Thread-safe.

    A callback that raises is dropped for the rest of the run: progress never fails a run.
    """

    def __init__(self, callback: ProgressCallback, *, total: int, cached: int) -> None:
        self._callback: ProgressCallback | None = callback
        self._lock = threading.Lock()
        self._in_flight: dict[int, tuple[str, ...]] = {}
        self._next = 0
        self._tick = Tick(total=total, done=cached, cached=cached, spent_micro=0)
        self._emit(self._tick)

    def sending(self, labels: Iterable[str]) -> int:
        """A request with these items' labels starts; returns the token to pass to `sent`."""
        with self._lock:
            self._next += 1
            self._in_flight[self._next] = tuple(labels)
            self._tick = replace(self._tick, sending=self._in_flight[self._next])
            tick, token = self._tick, self._next
        self._emit(tick)
        return token

    def sent(self, token: int, count: int, spent_micro: int, *, answered: bool) -> None:
        """The request `token` ended: its `count` items are answered, or go to the local fallback."""
        with self._lock:
            self._in_flight.pop(token, None)
            t = self._tick
            self._tick = replace(
                t,
                done=min(t.total, t.done + count),
                spent_micro=spent_micro,
                local=t.local + (0 if answered else count),
                sending=next(reversed(self._in_flight.values()), ()),
            )
            tick = self._tick
        self._emit(tick)

    def finish(self, spent_micro: int) -> None:
        with self._lock:
            t = self._tick
            self._tick = replace(t, done=t.total, spent_micro=spent_micro, sending=(), finished=True)
            tick = self._tick
        self._emit(tick)

    def _emit(self, tick: Tick) -> None:
        callback = self._callback
        if callback is None:
            return
        try:
            callback(tick)
        except Exception:
            self._callback = None
