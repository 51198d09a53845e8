"""Coalescing: identical concurrent requests make one upstream call (per process).

The first caller with a key (the leader) runs the call; the others await its result. A caller that
disconnects does not cancel the call, so the others still get the answer. uvicorn `--workers` do not
share flights.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

__all__ = ["SingleFlight"]

T = TypeVar("T")


class SingleFlight:
    """One in-flight call per key; concurrent callers with the same key await the same result."""

    def __init__(self) -> None:
        self._calls: dict[str, asyncio.Task[Any]] = {}

    async def run(self, key: str, fn: Callable[[], T]) -> tuple[T, bool]:
        """(result, True for the caller that ran `fn`). `fn` runs in a worker thread; a caller that
        disconnects does not cancel it, so the others still get the answer."""
        task = self._calls.get(key)
        leader = task is None
        if task is None:
            task = asyncio.ensure_future(anyio.to_thread.run_sync(fn))
            self._calls[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        result: T = await asyncio.shield(task)
        return result, leader

    def _done(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._calls.get(key) is task:
            del self._calls[key]
        if not task.cancelled():
            task.exception()  # retrieved: a failure nobody awaited is not logged as "never retrieved"
