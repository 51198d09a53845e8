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
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ...config.keys import mask_url
from ...errors import Warn
from ..redis import PREFIX, TIMEOUT_CAP, Server, get_server, redis_errors, redis_timeout
from . import append_event

if TYPE_CHECKING:
    from ...config import Settings

__all__ = ["STATS_BATCH", "STATS_DELAY", "STREAM_MAXLEN", "RedisStats", "SpooledStats", "redis_stats"]

STREAM_MAXLEN = 100_000  # approximate length cap of the stats stream (XADD MAXLEN ~)
STATS_BATCH = 32  # events sent in one round trip
STATS_DELAY = 1.0  # seconds an event may wait for its batch


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
    """A sink straight to the team's stream (imports redis and connects now)."""
    return RedisStats(settings.cache_url or "", warn=warn, timeout=redis_timeout(settings))


class SpooledStats:
    """The stats sink for LLM_CACHE_BACKEND=redis, without importing redis (~80 ms) on a local cache hit.

    While nothing in this process has imported redis (every answer came from this machine's disk),
    events are appended to `spool` (`<cache dir>/stats-spool.jsonl`, beside stats.jsonl) instead of
    sent. The first process that talks to Redis anyway (a miss, a shared-cache read, `stats`) claims the
    spool and sends it with its own events, so the team's stream gets every machine's hits, some of them
    late. Never raises; `read` connects.
    """

    def __init__(self, settings: Settings, warn: Warn, spool: Path | None) -> None:
        self._settings = settings
        self._warn = warn
        self._spool = spool
        self._real: RedisStats | None = None

    @property
    def error(self) -> str | None:
        return self._real.error if self._real is not None else None

    def send(self, event: dict[str, Any]) -> None:
        if self._real is None and "redis" not in sys.modules and self._spool is not None:
            try:
                append_event(self._spool, event)
                return
            except OSError:
                pass  # no spool: send it now
        self._connected().send(event)

    def flush(self) -> None:
        """Send what waits, the spool included, when this process has Redis loaded anyway."""
        if self._real is None and "redis" in sys.modules and self._spool is not None and self._spool.exists():
            self._connected()
        if self._real is not None:
            self._real.flush()

    def read(self) -> Iterable[dict[str, Any]] | None:
        real = self._connected()
        return real.read()

    def _connected(self) -> RedisStats:
        if self._real is None:
            self._real = redis_stats(self._settings, self._warn)
            self._drain(self._real)
        return self._real

    def _drain(self, real: RedisStats) -> None:
        """Claim the spool (an atomic rename: two processes never send it twice) and send it."""
        if self._spool is None:
            return
        claimed = self._spool.with_name(f"{self._spool.name}.{os.getpid()}.{os.urandom(4).hex()}")
        try:
            os.rename(self._spool, claimed)
            data = claimed.read_bytes()
        except OSError:
            return  # nothing spooled, or another process took it
        for raw in data.splitlines():
            try:
                event = json.loads(raw)
            except ValueError:
                continue  # a torn line after a crash
            if isinstance(event, dict):
                real.send(event)
        real.error = None
        real.flush()
        with contextlib.suppress(OSError):
            if real.error is not None:  # Redis unreachable: back into the spool for a later run
                fd = os.open(self._spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data if data.endswith(b"\n") else data + b"\n")
                finally:
                    os.close(fd)
            claimed.unlink()
