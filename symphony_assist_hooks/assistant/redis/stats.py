"""`RedisStats`: usage events on a capped Redis stream (``symphony-assist:stats``) shared by the team.

Events are sent in batches (at most `STATS_BATCH` events or `STATS_DELAY` seconds late, and at exit)
and the stream is capped with ``XADD ... MAXLEN ~ 100000`` (about 30 MB). ``symphony-assist stats``
reads the team's events back; every event is also kept in this machine's ``stats.jsonl``, which
``stats`` shows when Redis is unreachable.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from ...config import mask_url
from .connection import PREFIX, TIMEOUT_CAP, Server, get_server, redis_errors, redis_timeout

if TYPE_CHECKING:
    from ...config import Settings

__all__ = ["STATS_BATCH", "STATS_DELAY", "STREAM_MAXLEN", "RedisStats", "redis_stats"]

STREAM_MAXLEN = 100_000  # approximate length cap of the stats stream (XADD MAXLEN ~)
STATS_BATCH = 32  # events sent in one round trip
STATS_DELAY = 1.0  # seconds an event may wait for its batch

Warn = Callable[[str], None]


def _send_at_exit(
    lock: threading.Lock, server: Server, stream: str, maxlen: int, pending: list[tuple[int, str]]
) -> None:
    """The sink's finalizer (collected, or the interpreter exiting): send what is still waiting."""
    with lock:
        waiting = pending[:]
        pending.clear()
    with contextlib.suppress(Exception):  # e.g. an import refused during shutdown: never a traceback at exit
        _send(server, stream, maxlen, waiting)


def _send(server: Server, stream: str, maxlen: int, pending: list[tuple[int, str]]) -> str | None:
    """XADD this process's waiting events in one round trip, emptying `pending`; the failure reason, or None.

    Events a forked child inherited are dropped from its copy: the process that recorded them sends them.
    """
    me = os.getpid()
    lines = [line for pid, line in pending if pid == me]
    pending.clear()
    if not lines:
        return None
    try:
        pipe = server.client().pipeline(transaction=False)
        for line in lines:
            pipe.xadd(stream, {"event": line}, maxlen=maxlen, approximate=True)
        pipe.execute()
    except redis_errors() as exc:
        return f"{len(lines)} event(s) not sent to {server.masked} ({server.failed(exc)})"
    return None


class RedisStats:
    """A `StatsSink` (stats.py) on a capped Redis stream shared by the team. Never raises.

    Events are sent in batches: `STATS_BATCH` at once, or what `STATS_DELAY` seconds gathered (a timer
    thread), and the rest when the sink is collected or the interpreter exits. A run of cache hits thus
    pays one round trip, not one per answer. Events that cannot be sent stay in the local stats.jsonl
    only (`error` says why).
    """

    def __init__(
        self,
        url: str,
        *,
        warn: Warn,
        timeout: float = TIMEOUT_CAP,
        prefix: str = PREFIX,
        maxlen: int = STREAM_MAXLEN,
    ) -> None:
        self.url = mask_url(url)
        self.error: str | None = None
        self._server = get_server(url, timeout)
        self._stream = prefix + "stats"
        self._warn = warn
        self._maxlen = maxlen
        self._pending: list[tuple[int, str]] = []  # (pid, event); the finalizer holds this same list
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        with contextlib.suppress(*redis_errors()):  # import redis now: it cannot be imported at exit
            self._server.client()
        weakref.finalize(self, _send_at_exit, self._lock, self._server, self._stream, maxlen, self._pending)

    def send(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":"), sort_keys=True)
        with self._lock:
            self._pending.append((os.getpid(), line))
            due = len(self._pending) >= STATS_BATCH
            if not due and (self._timer is None or not self._timer.is_alive()):
                self._timer = threading.Timer(STATS_DELAY, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if due:
            self.flush()

    def flush(self) -> None:
        """Send the waiting events now."""
        with self._lock:
            pending = self._pending[:]
            self._pending.clear()
        error = _send(self._server, self._stream, self._maxlen, pending)
        if error is not None:
            self.error = "stats: " + error

    def read(self) -> Iterable[dict[str, Any]] | None:
        """The team's events, oldest first; None (with one warning) when the stream is unreachable."""
        self.flush()
        try:
            first = self._page("-")
        except redis_errors() as exc:
            self._warn(
                f"stats: the team's events at {self.url} are unreachable ({self._server.failed(exc)}); "
                "showing this machine's events"
            )
            return None
        return self._pages(first)

    def _page(self, start: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
        return cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            self._server.client().xrange(self._stream, start, "+", count=1000),
        )

    def _pages(self, page: list[tuple[bytes, dict[bytes, bytes]]]) -> Iterator[dict[str, Any]]:
        while page:
            for _, fields in page:
                try:
                    event = json.loads(fields.get(b"event", b""))
                except ValueError:
                    continue
                if isinstance(event, dict):
                    yield event
            try:
                page = self._page("(" + page[-1][0].decode())
            except redis_errors() as exc:
                self._warn(f"stats: reading the team's events at {self.url} stopped ({self._server.failed(exc)})")
                return


def redis_stats(settings: Settings, warn: Warn) -> RedisStats:
    """The stats sink for LLM_CACHE_BACKEND=redis."""
    return RedisStats(settings.cache_url or "", warn=warn, timeout=redis_timeout(settings))
