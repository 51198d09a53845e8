"""Team scale: the answer cache, the budget ledger and the stats events on one shared Redis (issue #8).

Turned on with ``LLM_CACHE_BACKEND=redis`` and ``LLM_CACHE_URL=redis://[user:password@]host:6379/0``
(also ``rediss://`` for TLS and ``unix:///path/redis.sock?db=0``; or ``llm_cache_backend`` /
``llm_cache_url`` under ``[tool.symphony-assist]``). Needs the ``redis`` extra
(``pip install 'symphony-assist[redis]'``); the ``redis`` package (~90-140 ms to import) is imported on
the first command sent, and never by the disk or memory backends. Put the password in the environment
(a CI secret), not in pyproject.toml, which is committed. Every message shows the URL with its
password masked (`mask_url`). A single server or a primary is expected: Redis Cluster is not supported.
Use ``rediss://`` beyond loopback, and an ACL user limited to the prefix and the commands used::

    ACL SETUSER symphony on >PASSWORD resetkeys ~symphony-assist:* resetchannels -@all +@read +@write
        +@scripting +@connection -@dangerous +info +time +scan

Anyone who can write those keys can plant answers (shown to developers as findings; model output is
treated as untrusted data everywhere) or rewrite the ledger: give the user to CI and the team only.

Keys (``symphony-assist:`` prefix, in the URL's db):

* ``cache:<sha256>``: an answer, zlib-compressed JSON exactly as on disk (never pickle), ``SET ... EX
  <LLM_CACHE_TTL>``; no expiry when the TTL is 0.
* ``ledger:reservations`` (hash id -> JSON {amount, day, month, expires_at, pid, host}),
  ``ledger:spend`` (hash UTC period ``YYYY-MM-DD`` / ``YYYY-MM`` -> micro-dollars), ``ledger:meta``
  (``last_day``, the monotone period marker). No TTL: spend must outlive any cache entry.
* ``stats``: a stream of usage events, capped with ``XADD ... MAXLEN ~ 100000`` (about 30 MB).

Eviction. The cache is bounded by Redis's own ``maxmemory`` and ``maxmemory-policy``, and that policy
is one per *server*, not per db: a separate db does not shield the ledger from ``allkeys-*``. Use
``maxmemory-policy volatile-lru`` (or ``volatile-lfu`` / ``volatile-ttl``) with a nonzero
``LLM_CACHE_TTL`` (the default is one day): then only answers, which carry a TTL, are ever evicted, and
the ledger and the stream never are. With ``LLM_CACHE_TTL=0`` nothing is evictable under ``volatile-*``:
once ``maxmemory`` is reached, Redis refuses writes, answers stop being cached (one warning) and
reservations fail closed. ``allkeys-lru`` may drop the ledger and forget the month's spend, so the
ledger warns once when it sees that policy with a ``maxmemory`` set; if you need it, give the ledger a
Redis server of its own (no ``maxmemory``, or ``noeviction``).

Semantics:

* `RedisCache` reads and writes Redis, and also keeps every answer this machine stores in its disk
  cache (a hit read from Redis is not copied: a hit stays one read). When Redis is unreachable, or
  fails mid-run, it carries on with the local disk cache after one warning, and tries Redis again
  30 s later. It lists and restores entries (``SCAN`` over its prefix),
  so ``symphony-assist cache export FILE`` / ``cache import FILE`` move the team's cache too.
  ``cache clear`` clears the team's cache and this machine's copy.
* `RedisLedger` keeps the disk ledger's rules (budget.py): month and day caps shared by everyone using
  the server, the run cap per ledger object, every cap checked in one atomic step, reservations with
  an expiry swept on each reserve (and those of dead processes on this host, identified by hostname,
  boot id and pid namespace so that containers never sweep each other's), settlement into the periods
  a reservation was made in, a monotone day marker. Reserve, settle and the sweep are Lua scripts, so
  they are atomic on the server. Periods and expiries use the Redis server's clock (``TIME``), so
  laptops with skewed clocks agree on the day and never sweep a live reservation early. An
  unreachable or failing server fails closed: `reserve` raises BudgetError "budget: the shared ledger
  at <url> is unreachable (...); no paid call was made" and the local analyzers answer.
* `RedisStats` sends usage events to the stream in batches (at most 32 events or one second late, and
  at exit), and reads the team's events back for ``symphony-assist stats``. Events are also kept in
  this machine's ``stats.jsonl``, which ``stats`` shows when Redis is unreachable.

Faults never hang a run: connect and read timeouts are ``min(2 s, LLM timeout)``, redis-py's own
retries are off, and a server found unreachable is not tried again by this process for 30 s, so the
cache, the ledger and the stats of one run pay one timeout between them.

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

import contextlib
import functools
import json
import math
import os
import sys
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from ..config import mask_url
from ..errors import BudgetError
from .budget import Caps, Reservation, _over, _pid_alive, format_usd, periods
from .cache import Cache, CacheEntry, ExportableCache, _decode, _encode

if TYPE_CHECKING:
    import redis

    from ..config import Settings

__all__ = [
    "PREFIX",
    "RETRY_AFTER",
    "STREAM_MAXLEN",
    "RedisCache",
    "RedisLedger",
    "RedisStats",
    "mask_url",
    "redis_cache",
    "redis_ledger",
    "redis_stats",
    "redis_timeout",
]

PREFIX = "symphony-assist:"
TIMEOUT_CAP = 2.0  # seconds: connect and read timeouts never exceed this (nor settings.timeout)
RETRY_AFTER = 30.0  # seconds a server found unreachable is not asked again by this process
STREAM_MAXLEN = 100_000  # approximate length cap of the stats stream (XADD MAXLEN ~)
SCAN_COUNT = 500
STATS_BATCH = 32  # events sent in one round trip
STATS_DELAY = 1.0  # seconds an event may wait for its batch

Warn = Callable[[str], None]


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
class _Down(Exception):
    """The server failed recently; not asked again until `RETRY_AFTER` has passed."""


class _Unusable(ValueError):
    """The redis package is not installed, or redis-py cannot use the URL."""


class _Server:
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
        """The client (no connection is made here). Raises _Down while the server is held down,
        ValueError for a URL redis-py cannot parse."""
        if time.monotonic() < self._down_until:
            raise _Down(self.reason)
        with self._lock:
            if self._client is None:
                try:
                    import redis
                except ImportError:
                    raise _Unusable(
                        "the redis package is not installed: pip install 'symphony-assist[redis]'"
                    ) from None
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
                    raise _Unusable(str(exc)) from None
            return self._client

    def failed(self, exc: BaseException) -> str:
        """Record a failure; hold the server down when it is unreachable. Returns a safe one-line reason."""
        if isinstance(exc, _Down):
            return self.reason
        reason = self.scrub(str(exc) or type(exc).__name__)
        if _unreachable(exc):
            self.reason = reason
            self._down_until = time.monotonic() + RETRY_AFTER
        return reason

    def scrub(self, text: str) -> str:
        text = " ".join(text.split())
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text if len(text) <= 200 else text[:199] + "…"


def _unreachable(exc: BaseException) -> bool:
    """True for a server that cannot be reached (or used at all); False when it answered with an error."""
    if isinstance(exc, _Down | _Unusable | OSError):
        return True
    rx = sys.modules.get("redis.exceptions")
    return rx is not None and isinstance(exc, rx.ConnectionError | rx.TimeoutError)


_servers: dict[tuple[str, float], _Server] = {}
_servers_lock = threading.Lock()


def _server(url: str, timeout: float) -> _Server:
    with _servers_lock:
        server = _servers.get((url, timeout))
        if server is None:
            server = _servers[(url, timeout)] = _Server(url, timeout)
        return server


def _redis_errors() -> tuple[type[BaseException], ...]:
    """What a Redis command may raise: redis-py's errors, socket errors, a bad URL, a missing package."""
    rx = sys.modules.get("redis.exceptions")  # imported with redis by `_Server.client`
    return (_Down, OSError, ValueError) if rx is None else (_Down, rx.RedisError, OSError, ValueError)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


# ------------------------------------------------------------------------------------------- cache
class RedisCache:
    """The shared answer cache, with this machine's disk cache as write-through fallback. Thread-safe.

    Follows the `Cache` contract (cache.py): `get` returns None on any fault, nothing else raises.
    """

    backend: str = "redis"

    def __init__(
        self,
        url: str,
        *,
        local: Cache,
        ttl: int,
        warn: Warn,
        timeout: float = TIMEOUT_CAP,
        prefix: str = PREFIX,
    ) -> None:
        self.url = mask_url(url)
        self.local = local
        self.ttl = ttl
        self._server = _server(url, timeout)
        self._prefix = prefix + "cache:"
        self._warn = warn
        self._warned: set[str] = set()

    def _failed(self, exc: BaseException) -> str:
        """Warn once per kind of fault; return the (safe) reason."""
        reason = self._server.failed(exc)
        if _unreachable(exc):
            where = getattr(self.local, "path", None)
            fallback = f"using the local disk cache at {where}" if self.local.backend == "disk" else "not caching"
            kind, message = "down", f"cache: the shared cache at {self.url} is unreachable ({reason}); {fallback}"
        else:  # the server answered with an error (out of memory, no permission, ...)
            kind, message = "error", f"cache: the shared cache at {self.url} refused a command ({reason}); continuing"
        self._warn_once(kind, message)
        return reason

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            self._warn(message)

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            blob = self._server.client().get(self._prefix + key)
        except _redis_errors() as exc:
            self._failed(exc)
            return self.local.get(key)
        return _decode(blob)

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        if self._store(key, value, ex=ttl or None) is not None:
            self.local.set(key, value, ttl)

    def restore(self, key: str, value: Mapping[str, Any], expire_at: float | None) -> bool:
        ms = None if expire_at is None else math.ceil((expire_at - time.time()) * 1000)
        if ms is not None and ms <= 0:
            return False
        stored = self._store(key, value, px=ms)
        if stored is not None and isinstance(self.local, ExportableCache):
            stored = self.local.restore(key, value, expire_at) or stored
        return bool(stored)

    def _store(
        self, key: str, value: Mapping[str, Any], *, ex: int | None = None, px: int | None = None
    ) -> bool | None:
        """Whether Redis stored it; None for a value that is not a JSON object (then stored nowhere)."""
        try:
            blob = _encode(value)
        except (TypeError, ValueError) as exc:
            self._warn_once("encode", f"cache: not caching a value that is not a JSON object ({exc})")
            return None
        try:
            return bool(self._server.client().set(self._prefix + key, blob, ex=ex, px=px))
        except _redis_errors() as exc:
            self._failed(exc)
            return False

    def _keys(self, r: redis.Redis) -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        for key in r.scan_iter(match=_glob_escape(self._prefix) + "*", count=SCAN_COUNT):
            batch.append(cast(bytes, key))
            if len(batch) >= SCAN_COUNT:
                yield batch
                batch = []
        if batch:
            yield batch

    def entries(self) -> Iterator[CacheEntry]:
        """The team's live entries; this machine's when Redis is unreachable from the start, none more
        when it fails midway (with the cache's one warning)."""
        started = False
        try:
            r = self._server.client()
            for batch in self._keys(r):
                pipe = r.pipeline(transaction=False)
                for name in batch:
                    pipe.get(name)
                    pipe.pttl(name)
                replies = pipe.execute()
                now = time.time()
                for i, name in enumerate(batch):
                    value, pttl = _decode(replies[2 * i]), int(replies[2 * i + 1])
                    if value is not None and pttl != -2:
                        started = True
                        yield name.decode()[len(self._prefix) :], value, (now + pttl / 1000 if pttl > 0 else None)
        except _redis_errors() as exc:
            self._failed(exc)
            if not started and isinstance(self.local, ExportableCache):
                yield from self.local.entries()

    def clear(self) -> int:
        """Remove the team's entries (and this machine's copies); return how many Redis held."""
        local = self.local.clear()
        try:
            r = self._server.client()
            return sum(int(r.unlink(*batch)) for batch in self._keys(r))
        except _redis_errors() as exc:
            self._failed(exc)
            return local

    def info(self) -> dict[str, Any]:
        """`path` is the masked URL; `bytes` and `size_limit` are the server's `used_memory` and
        `maxmemory` (server-wide); `eviction` its `maxmemory-policy`; `local` the fallback's path."""
        out: dict[str, Any] = {
            "backend": self.backend,
            "path": self.url,
            "entries": 0,
            "bytes": 0,
            "size_limit": 0,
            "ttl": self.ttl,
            "local": str(getattr(self.local, "path", None)),
        }
        try:
            r = self._server.client()
            out["entries"] = sum(len(batch) for batch in self._keys(r))
            memory = r.info("memory")
        except _redis_errors() as exc:
            reason = self._failed(exc)
            if _unreachable(exc):
                out["reason"] = f"unreachable ({reason}); showing the local disk cache"
                out["entries"] = self.local.info().get("entries", 0)
            return out
        out["bytes"] = int(memory.get("used_memory", 0))
        out["size_limit"] = int(memory.get("maxmemory", 0))
        out["eviction"] = str(memory.get("maxmemory_policy", "?"))
        return out

    def close(self) -> None:
        """Close the local cache; the process-wide Redis client stays (the ledger may share it)."""
        self.local.close()


# ------------------------------------------------------------------------------------------ ledger
# Lua 5.1 inside Redis has no os.date: the UTC civil date of an epoch (H. Hinnant's days -> y/m/d).
_UTC_DAY = """
local function utc_day(t)
  local z = math.floor(t / 86400) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02d', y, m, d)
end
"""

# KEYS: reservations, spend, meta. ARGV: now ('' = the server's clock), id, amount, pid, host, lifetime,
# month cap ('' = none), day cap, run refused ('1'/'0'), ids to sweep (dead owners, JSON), own ids (JSON).
# Returns {1 granted | 0 refused by a shared cap | 2 refused by the run cap, day, month, swept, freed}
# and, for 0, the refusing cap's {name, cap, spent, reserved}.
_RESERVE = (
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    + _UTC_DAY
    + """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local amount = tonumber(ARGV[3])
local dead, own = {}, {}
for _, id in ipairs(cjson.decode(ARGV[10])) do dead[id] = true end
for _, id in ipairs(cjson.decode(ARGV[11])) do own[id] = true end
local day = utc_day(now)
local last = redis.call('HGET', KEYS[3], 'last_day')
if last and last > day then
  day = last  -- the clock went back: stay in the latest period seen
elseif last ~= day then
  redis.call('HSET', KEYS[3], 'last_day', day)
end
local month = string.sub(day, 1, 7)
local swept, freed, on_day, on_month = 0, 0, 0, 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local id, r = all[i], cjson.decode(all[i + 1])
  if not own[id] and (r.expires_at <= now or dead[id]) then
    redis.call('HDEL', KEYS[1], id)
    swept = swept + 1
    freed = freed + r.amount
  else
    if r.day == day then on_day = on_day + r.amount end
    if r.month == month then on_month = on_month + r.amount end
  end
end
if amount > 0 then
  local caps = {{'monthly', ARGV[7], month, on_month}, {'daily', ARGV[8], day, on_day}}
  for _, c in ipairs(caps) do
    local cap = tonumber(c[2])
    if cap then
      local spent = tonumber(redis.call('HGET', KEYS[2], c[3]) or '0')
      if spent + c[4] + amount > cap then
        return {0, day, month, swept, freed, c[1], cap, spent, c[4]}
      end
    end
  end
  if ARGV[9] == '1' then return {2, day, month, swept, freed} end
end
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode({amount = amount, day = day, month = month,
  expires_at = now + tonumber(ARGV[6]), pid = tonumber(ARGV[4]), host = ARGV[5]}))
return {1, day, month, swept, freed}
"""
)

# KEYS: reservations, spend. ARGV: id, day, month, actual.
_SETTLE = """
redis.call('HDEL', KEYS[1], ARGV[1])
if tonumber(ARGV[4]) > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[4])
  redis.call('HINCRBY', KEYS[2], ARGV[3], ARGV[4])
end
return 1
"""


@functools.cache
def _host_id() -> str:
    """This host *and* pid namespace: a pid is only meaningful there (containers share boot ids)."""
    import socket

    parts = [socket.gethostname()]
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            parts.append(fh.read().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        pass
    return "/".join(parts)


class RedisLedger:
    """The shared ledger (see the module docstring and budget.py for the rules). Thread-safe.

    `now` replaces the server's clock (tests); by default periods and expiries follow Redis's ``TIME``.
    """

    backend = "redis"

    def __init__(
        self,
        url: str,
        caps: Caps,
        *,
        warn: Warn,
        now: Callable[[], float] | None = None,
        lifetime: float,
        timeout: float = TIMEOUT_CAP,
        prefix: str = PREFIX,
    ) -> None:
        self.caps = caps
        self.path = mask_url(url)
        self._server = _server(url, timeout)
        self._keys = [prefix + "ledger:reservations", prefix + "ledger:spend", prefix + "ledger:meta"]
        self._warn = warn
        self._now = now
        self._lifetime = lifetime
        self._lock = threading.RLock()
        self._open: dict[str, Reservation] = {}
        self._run_spent = 0
        self._scripts: tuple[Any, Any] | None = None
        self._policy_checked = False

    def _unusable(self, exc: BaseException) -> BudgetError:
        reason = self._server.failed(exc)
        state = "is unreachable" if _unreachable(exc) else "failed"
        return BudgetError(f"budget: the shared ledger at {self.path} {state} ({reason}); no paid call was made")

    def _client(self) -> tuple[redis.Redis, Any, Any]:
        r = self._server.client()
        if self._scripts is None:
            self._scripts = (r.register_script(_RESERVE), r.register_script(_SETTLE))
        if not self._policy_checked:
            self._policy_checked = True
            self._check_policy(r)
        return r, *self._scripts

    def _check_policy(self, r: redis.Redis) -> None:
        try:
            memory = r.info("memory")
        except _redis_errors():
            return  # INFO may be denied by an ACL: the reservation itself will tell
        policy = str(memory.get("maxmemory_policy", ""))
        if policy.startswith("allkeys") and int(memory.get("maxmemory", 0)):
            self._warn(
                f"budget: the Redis server at {self.path} evicts any key when full (maxmemory-policy {policy}), "
                "so recorded spend can be lost; use volatile-lru, or a Redis server of its own for the ledger"
            )

    def _dead(self, r: redis.Redis) -> list[str]:
        """Reservations held by processes of this host that are gone (kill -9)."""
        me, host, dead = os.getpid(), _host_id(), []
        for rid, raw in cast(dict[bytes, bytes], r.hgetall(self._keys[0])).items():
            try:
                entry = json.loads(raw)
                pid = int(entry["pid"])
            except (ValueError, KeyError, TypeError):
                continue  # the script decides about a malformed entry
            if entry.get("host") == host and pid != me and rid.decode() not in self._open and not _pid_alive(pid):
                dead.append(rid.decode())
        return dead

    def reserve(self, amount: int) -> Reservation:
        if amount < 0:
            raise ValueError(f"a reservation cannot be negative ({amount})")
        with self._lock:
            run_refusal = None
            if self.caps.run is not None and amount > 0:
                in_flight = sum(r.amount for r in self._open.values())
                run_refusal = _over("run", self.caps.run, self._run_spent, in_flight, amount)
            rid = os.urandom(12).hex()
            try:
                r, reserve, _ = self._client()
                args = [
                    "" if self._now is None else repr(self._now()),
                    rid,
                    amount,
                    os.getpid(),
                    _host_id(),
                    repr(self._lifetime),
                    "" if self.caps.month is None else self.caps.month,
                    "" if self.caps.day is None else self.caps.day,
                    "1" if run_refusal else "0",
                    json.dumps(self._dead(r)),
                    json.dumps(list(self._open)),
                ]
                reply = [v.decode() if isinstance(v, bytes) else int(v) for v in reserve(self._keys, args, client=r)]
            except _redis_errors() as exc:
                raise self._unusable(exc) from None
            status, day, month, swept, freed = reply[:5]
            if swept:
                self._warn(
                    f"budget: released {format_usd(int(freed))} held by {swept} unfinished call(s) "
                    "(their process is gone or the reservation expired)"
                )
            if status == 0:
                name, cap, spent, reserved = reply[5:]
                raise BudgetError(_over(str(name), int(cap), int(spent), int(reserved), amount) or str(name))
            if status == 2:
                raise BudgetError(run_refusal or "budget: run cap reached")
            res = Reservation(rid, amount, str(day), str(month))
            self._open[rid] = res
        return res

    def settle(self, res: Reservation, actual: int) -> None:
        if actual < 0:
            raise ValueError(f"a cost cannot be negative ({actual})")
        with self._lock:
            if self._open.pop(res.id, None) is None:
                raise ValueError(f"reservation {res.id} is already settled or released")
            self._run_spent += actual
            try:
                r, _, settle = self._client()
                settle(self._keys[:2], [res.id, res.day, res.month, actual], client=r)
            except _redis_errors() as exc:
                self._warn(
                    f"budget: could not record {format_usd(actual)} spent in the shared ledger at {self.path} "
                    f"({self._server.failed(exc)}); the shared ledger under-counts this call"
                )

    def release(self, res: Reservation) -> None:
        with self._lock:
            if self._open.pop(res.id, None) is None:
                return
            try:
                self._server.client().hdel(self._keys[0], res.id)
            except _redis_errors() as exc:
                reason = self._server.failed(exc)
                self._warn(f"budget: could not release a reservation at {self.path} ({reason}); it will expire")

    def status(self) -> dict[str, Any]:
        """The same shape as the disk ledger's `status()`; raises BudgetError when Redis is unusable."""
        with self._lock:
            try:
                pipe = self._server.client().pipeline(transaction=False)  # MULTI is refused when full
                pipe.time()
                pipe.hget(self._keys[2], "last_day")
                pipe.hgetall(self._keys[1])
                pipe.hvals(self._keys[0])
                clock, last, spend_raw, held = pipe.execute()
            except _redis_errors() as exc:
                raise self._unusable(exc) from None
            now = float(clock[0]) + float(clock[1]) / 1e6 if self._now is None else self._now()
            day = periods(now)[0]
            if last is not None and last.decode() > day:
                day = last.decode()
            month = day[:7]
            try:
                spend = {k.decode(): int(v) for k, v in spend_raw.items()}
                entries = [json.loads(raw) for raw in held]
                amounts = [(int(e["amount"]), e.get("day"), e.get("month")) for e in entries]
            except (ValueError, KeyError, TypeError) as exc:  # not written by us: fail closed
                raise self._unusable(exc) from None
            return {
                "backend": self.backend,
                "path": self.path,
                "run": {
                    "spent": self._run_spent,
                    "reserved": sum(r.amount for r in self._open.values()),
                    "cap": self.caps.run,
                },
                "day": {
                    "period": day,
                    "spent": spend.get(day, 0),
                    "reserved": sum(a for a, d, _ in amounts if d == day),
                    "cap": self.caps.day,
                },
                "month": {
                    "period": month,
                    "spent": spend.get(month, 0),
                    "reserved": sum(a for a, _, m in amounts if m == month),
                    "cap": self.caps.month,
                },
                "months": {p: v for p, v in sorted(spend.items()) if len(p) == 7},
            }

    def close(self) -> None:
        """Nothing to release: the process-wide client is shared with the cache and the stats."""


# ------------------------------------------------------------------------------------------- stats
def _send_at_exit(
    lock: threading.Lock, server: _Server, stream: str, maxlen: int, pending: list[tuple[int, str]]
) -> None:
    """The sink's finalizer (collected, or the interpreter exiting): send what is still waiting."""
    with lock:
        waiting = pending[:]
        pending.clear()
    with contextlib.suppress(Exception):  # e.g. an import refused during shutdown: never a traceback at exit
        _send(server, stream, maxlen, waiting)


def _send(server: _Server, stream: str, maxlen: int, pending: list[tuple[int, str]]) -> str | None:
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
    except _redis_errors() as exc:
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
        self._server = _server(url, timeout)
        self._stream = prefix + "stats"
        self._warn = warn
        self._maxlen = maxlen
        self._pending: list[tuple[int, str]] = []  # (pid, event); the finalizer holds this same list
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        with contextlib.suppress(*_redis_errors()):  # import redis now: it cannot be imported at exit
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
        except _redis_errors() as exc:
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
            except _redis_errors() as exc:
                self._warn(f"stats: reading the team's events at {self.url} stopped ({self._server.failed(exc)})")
                return


# --------------------------------------------------------------------------------------- factories
def redis_cache(settings: Settings, local: Cache, warn: Warn) -> RedisCache:
    """`open_cache` for LLM_CACHE_BACKEND=redis: Redis in front of `local` (the disk cache)."""
    return RedisCache(
        settings.cache_url or "", local=local, ttl=settings.cache_ttl, warn=warn, timeout=redis_timeout(settings)
    )


def redis_ledger(
    settings: Settings, caps: Caps, *, warn: Warn, now: Callable[[], float] | None, lifetime: float
) -> RedisLedger:
    """`open_ledger` for LLM_CACHE_BACKEND=redis."""
    return RedisLedger(
        settings.cache_url or "", caps, warn=warn, now=now, lifetime=lifetime, timeout=redis_timeout(settings)
    )


def redis_stats(settings: Settings, warn: Warn) -> RedisStats:
    """The stats sink for LLM_CACHE_BACKEND=redis."""
    return RedisStats(settings.cache_url or "", warn=warn, timeout=redis_timeout(settings))
