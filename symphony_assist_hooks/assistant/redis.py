"""The connection to the team's Redis, shared by the cache, the ledger and the stats of one process.

One redis-py client per (URL, timeout) per process (`get_server`). The ``redis`` package (~90-250 ms
to import) is imported by `Server.client`, on the first command a component actually sends: never by
importing this module, never on a cache hit read from the local disk.

Faults never hang a run: connect and read timeouts are ``min(2 s, LLM timeout)`` (`redis_timeout`),
redis-py's own retries are off, and a server found unreachable is not asked again by this process for
`RETRY_AFTER` seconds (`Down`), so the cache, the ledger and the stats of one run pay one timeout
between them. Every reason shown to the user has the URL's credentials scrubbed (`Server.scrub`).

Team scale (issue #8): the answer cache, the budget ledger and the stats events on one shared Redis.

Turned on with ``LLM_CACHE_BACKEND=redis`` and ``LLM_CACHE_URL=redis://[user:password@]host:6379/0``
(also ``rediss://`` for TLS and ``unix:///path/redis.sock?db=0``; or ``llm_cache_backend`` /
``llm_cache_url`` under ``[tool.symphony-assist]``). Needs the ``redis`` extra
(``pip install 'symphony-assist[redis]'``); the ``redis`` package (~90-250 ms to import) is imported on
the first command a component sends (`Server.client`): never by the disk or memory backends, and never on
a cache hit this machine answers from its own disk. Put the password in the environment
(a CI secret), not in pyproject.toml, which is committed. Every message shows the URL with its
password masked (`mask_url`). A single server or a primary is expected: Redis Cluster is not supported.
Use ``rediss://`` beyond loopback, and an ACL user limited to the prefix and the commands used::

    ACL SETUSER symphony on >PASSWORD resetkeys ~symphony-assist:* resetchannels -@all +@read +@write
        +@scripting +@connection -@dangerous +info +time +scan

Anyone who can write those keys can plant answers (shown to developers as findings; model output is
treated as untrusted data everywhere) or rewrite the ledger: give the user to CI and the team only.

Each Redis backend lives with its family and documents its keys and semantics; all share this module's
one client per process:

* cache/redis.py, `RedisCache`: ``cache:<sha256>``, answers with the cache TTL, read through this
  machine's disk cache (a local hit needs neither redis nor the server);
* ledger/redis.py, `RedisLedger`: ``ledger:reservations``, ``ledger:spend``, ``ledger:meta`` (no TTL),
  the budget's rules as Lua scripts on the server's clock, failing closed;
* stats/redis.py, `RedisStats`: ``stats``, a capped stream of usage events, sent in batches;
  `SpooledStats` keeps a local hit's events in a spool file until a run that loads redis anyway sends them;
* this module: the shared client, timeouts (``min(2 s, LLM timeout)``), and holding an unreachable
  server down for 30 s so that one run pays one timeout.

Eviction. The cache is bounded by Redis's own ``maxmemory`` and ``maxmemory-policy``, and that policy
is one per *server*, not per db: a separate db does not shield the ledger from ``allkeys-*``. Use
``maxmemory-policy volatile-lru`` (or ``volatile-lfu`` / ``volatile-ttl``) with a nonzero
``LLM_CACHE_TTL`` (the default is one day): then only answers, which carry a TTL, are ever evicted, and
the ledger and the stream never are. With ``LLM_CACHE_TTL=0`` nothing is evictable under ``volatile-*``:
once ``maxmemory`` is reached, Redis refuses writes, answers stop being cached (one warning) and
reservations fail closed. ``allkeys-lru`` may drop the ledger and forget the month's spend, so the
ledger warns once when it sees that policy with a ``maxmemory`` set; if you need it, give the ledger a
Redis server of its own (no ``maxmemory``, or ``noeviction``).

Teams without Redis can still share answers between CI runs: carry an export of the disk cache as a
GitHub Actions cache (keys are immutable, so save under a new key each run and restore the latest by
prefix; the file describes your code, and in a public repository workflows of pull requests from forks
can restore the base branch's caches)::

    - uses: actions/cache/restore@v4
      with:
        path: .symphony-assist-cache.jsonl
        key: symphony-assist-${{ github.run_id }}
        restore-keys: symphony-assist-
    - run: test ! -f .symphony-assist-cache.jsonl || symphony-assist cache import .symphony-assist-cache.jsonl
    - run: pre-commit run --all-files   # or pytest --assist, symphony-assist review ...
    - run: symphony-assist cache export .symphony-assist-cache.jsonl
      if: always()
    - uses: actions/cache/save@v4
      if: always()
      with:
        path: .symphony-assist-cache.jsonl
        key: symphony-assist-${{ github.run_id }}

(Carrying the whole cache directory instead also carries the disk ledger, which concurrent jobs would
overwrite: export only the answers.)
"""

from __future__ import annotations

import sys
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from ..config.keys import mask_url

if TYPE_CHECKING:
    import redis

    from ..config import Settings

__all__ = [
    "PREFIX",
    "RETRY_AFTER",
    "TIMEOUT_CAP",
    "Down",
    "Server",
    "Unusable",
    "get_server",
    "redis_errors",
    "redis_timeout",
    "unreachable",
]

PREFIX = "symphony-assist:"
TIMEOUT_CAP = 2.0  # seconds: connect and read timeouts never exceed this (nor settings.timeout)
RETRY_AFTER = 30.0  # seconds a server found unreachable is not asked again by this process


def redis_timeout(settings: Settings) -> float:
    """Connect and read timeout for these settings: min(2 s, settings.timeout)."""
    return min(TIMEOUT_CAP, settings.timeout)


# ------------------------------------------------------------------------------------------ the URL
def _secrets(url: str) -> list[str]:
    """Every form of the URL's credential that could appear in an error message."""
    parts = urllib.parse.urlsplit(url)
    found: list[str] = []
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        secret = userinfo.partition(":")[2] or userinfo
        found += [secret, urllib.parse.unquote(secret)]
    for key, value in urllib.parse.parse_qsl(parts.query):
        if key.lower() == "password" and value:
            found += [value, urllib.parse.quote(value)]
    return sorted({s for s in found if s}, key=len, reverse=True)


# ------------------------------------------------------------------------------------- the server
class Down(Exception):
    """The server failed recently; not asked again until `RETRY_AFTER` has passed."""


class Unusable(ValueError):
    """The redis package is not installed, or redis-py cannot use the URL."""


class Server:
    """One client per (URL, timeout) per process, and what this process knows about the server."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.masked = mask_url(url)
        self.timeout = timeout
        self.reason = ""
        self._secrets = _secrets(url)
        self._client: redis.Redis | None = None
        self._down_until = 0.0  # monotonic
        self._lock = threading.Lock()

    def client(self) -> redis.Redis:
        """The client (no connection is made here). Raises Down while the server is held down,
        ValueError for a URL redis-py cannot parse."""
        if time.monotonic() < self._down_until:
            raise Down(self.reason)
        with self._lock:
            if self._client is None:
                try:
                    import redis
                except ImportError:
                    raise Unusable("the redis package is not installed: pip install 'symphony-assist[redis]'") from None
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                options: dict[str, Any] = {
                    "socket_connect_timeout": self.timeout,
                    "socket_timeout": self.timeout,
                    "retry": Retry(NoBackoff(), 0),  # redis-py 8 retries 10 times by default
                    "health_check_interval": 0,
                }
                try:  # no CLIENT SETINFO: two round trips per connection
                    import redis.driver_info  # redis >= 7.1

                    options["driver_info"] = None
                except ImportError:
                    options["lib_name"] = options["lib_version"] = None
                try:
                    self._client = redis.Redis.from_url(self.url, **options)
                except ValueError as exc:  # a port that is not a number, an unknown option...
                    raise Unusable(str(exc)) from None
            return self._client

    def failed(self, exc: BaseException) -> str:
        """Record a failure; hold the server down when it is unreachable. Returns a safe one-line reason."""
        if isinstance(exc, Down):
            return self.reason
        reason = self.scrub(str(exc) or type(exc).__name__)
        if unreachable(exc):
            self.reason = reason
            self._down_until = time.monotonic() + RETRY_AFTER
        return reason

    def scrub(self, text: str) -> str:
        text = " ".join(text.split())
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text if len(text) <= 200 else text[:199] + "…"


def unreachable(exc: BaseException) -> bool:
    """True for a server that cannot be reached (or used at all); False when it answered with an error."""
    if isinstance(exc, Down | Unusable | OSError):
        return True
    rx = sys.modules.get("redis.exceptions")
    return rx is not None and isinstance(exc, rx.ConnectionError | rx.TimeoutError)


_servers: dict[tuple[str, float], Server] = {}
_servers_lock = threading.Lock()


def get_server(url: str, timeout: float) -> Server:
    """The process-wide `Server` for this URL and timeout (creating one imports and connects nothing)."""
    with _servers_lock:
        server = _servers.get((url, timeout))
        if server is None:
            server = _servers[(url, timeout)] = Server(url, timeout)
        return server


def redis_errors() -> tuple[type[BaseException], ...]:
    """What a Redis command may raise: redis-py's errors, socket errors, a bad URL, a missing package."""
    rx = sys.modules.get("redis.exceptions")  # imported with redis by `Server.client`
    return (Down, OSError, ValueError) if rx is None else (Down, rx.RedisError, OSError, ValueError)
