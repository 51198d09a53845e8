"""`RedisCache`: the team's answer cache on Redis, read through this machine's disk cache.

Keys are ``symphony-assist:cache:<sha256>``; values are the same zlib-compressed JSON as on disk
(codec.py, never pickle), written with ``SET ... EX <LLM_CACHE_TTL>`` (no expiry when the TTL is 0).

Two tiers, one contract (`Cache`, cache.py):

* `get` asks this machine's disk cache first. A local hit answers at disk speed: it imports no redis
  and opens no connection (docs/reference.md#hit-path). Only a local miss asks Redis; a hit found there is
  not copied to the disk (a hit stays one read), so other machines' answers keep coming from Redis.
* `set` writes Redis, then the local copy with the same TTL as an absolute expiry taken *before* the
  Redis write (less 2 ms: Redis keeps whole milliseconds), so the local copy never outlives the
  team's copy. With a TTL of 0 neither expires. When Redis is unreachable or refuses the write, the
  local copy is still written, so this machine keeps its answers.
* `restore` (``cache import``) writes both with the entry's absolute expiry; `entries` (``cache
  export``) lists Redis (``SCAN`` over the prefix), or this machine's copies when Redis is
  unreachable from the start.
* `clear` clears both tiers: the team's entries and this machine's copies. Other machines keep their
  own copies until their TTL passes (an answer never changes for a key: it stays correct).
* `info` reports Redis (masked URL, entries, the server's memory figures and eviction policy) and, as
  ``local``, the disk cache's own `info()`.

A Redis fault never fails a run: one warning, then this machine's disk cache alone, and Redis is
asked again `RETRY_AFTER` seconds later (connection.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from ...config.keys import mask_url
from ...errors import Warn
from ..redis import PREFIX, TIMEOUT_CAP, get_server, redis_errors, redis_timeout, unreachable
from .codec import decode, encode

if TYPE_CHECKING:
    import redis

    from ...config import Settings
    from ..cache import CacheEntry, ExportableCache

__all__ = ["SCAN_COUNT", "RedisCache", "redis_cache"]

SCAN_COUNT = 500
_CLOCK_GRAIN = 0.25  # seconds the local copy ends earlier: Redis keeps whole milliseconds and, under load, starts
# a key's clock from a cached time that can lag the moment we sent it; a quarter second costs one Redis read


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisCache:
    """The shared answer cache, read through `local` (this machine's disk cache). Thread-safe.

    Follows the `Cache` contract (cache.py): `get` returns None on any fault, nothing else raises.
    Redis is imported and connected on the first local miss or write, never before.
    """

    backend: str = "redis"

    def __init__(
        self,
        url: str,
        *,
        local: ExportableCache,
        ttl: int,
        warn: Warn,
        timeout: float = TIMEOUT_CAP,
        prefix: str = PREFIX,
    ) -> None:
        self.url = mask_url(url)
        self.local = local
        self.ttl = ttl
        self._server = get_server(url, timeout)
        self._prefix = prefix + "cache:"
        self._warn = warn
        self._warned: set[str] = set()

    def _failed(self, exc: BaseException) -> str:
        """Warn once per kind of fault; return the (safe) reason."""
        reason = self._server.failed(exc)
        if unreachable(exc):
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
        value = self.local.get(key)
        if value is not None:
            return value  # this machine's copy: no import, no round trip
        try:
            blob = self._server.client().get(self._prefix + key)
        except redis_errors() as exc:
            self._failed(exc)
            return None
        return decode(blob)

    def set(self, key: str, value: Mapping[str, Any], ttl: int | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        expire_at = time.time() + ttl - _CLOCK_GRAIN if ttl else None  # before Redis starts its clock
        if self._store(key, value, ex=ttl or None) is not None:
            self.local.restore(key, value, expire_at)

    def restore(self, key: str, value: Mapping[str, Any], expire_at: float | None) -> bool:
        ms = None if expire_at is None else math.ceil((expire_at - time.time()) * 1000)
        if ms is not None and ms <= 0:
            return False
        stored = self._store(key, value, px=ms)
        if stored is not None:
            stored = self.local.restore(key, value, expire_at) or stored
        return bool(stored)

    def _store(
        self, key: str, value: Mapping[str, Any], *, ex: int | None = None, px: int | None = None
    ) -> bool | None:
        """Whether Redis stored it; None for a value that is not a JSON object (then stored nowhere)."""
        try:
            blob = encode(value)
        except (TypeError, ValueError) as exc:
            self._warn_once("encode", f"cache: not caching a value that is not a JSON object ({exc})")
            return None
        try:
            return bool(self._server.client().set(self._prefix + key, blob, ex=ex, px=px))
        except redis_errors() as exc:
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
                    value, pttl = decode(replies[2 * i]), int(replies[2 * i + 1])
                    if value is not None and pttl != -2:
                        started = True
                        yield name.decode()[len(self._prefix) :], value, (now + pttl / 1000 if pttl > 0 else None)
        except redis_errors() as exc:
            self._failed(exc)
            if not started:
                yield from self.local.entries()

    def clear(self) -> int:
        """Remove the team's entries and this machine's copies; return how many Redis held (how many
        this machine held when Redis is unreachable)."""
        local = self.local.clear()
        try:
            r = self._server.client()
            return sum(int(r.unlink(*batch)) for batch in self._keys(r))
        except redis_errors() as exc:
            self._failed(exc)
            return local

    def info(self) -> dict[str, Any]:
        """`path` is the masked URL; `bytes` and `size_limit` are the server's `used_memory` and
        `maxmemory` (server-wide); `eviction` its `maxmemory-policy`; `local` the disk cache's `info()`."""
        out: dict[str, Any] = {
            "backend": self.backend,
            "path": self.url,
            "entries": 0,
            "bytes": 0,
            "size_limit": 0,
            "ttl": self.ttl,
            "local": self.local.info(),
        }
        try:
            r = self._server.client()
            out["entries"] = sum(len(batch) for batch in self._keys(r))
            memory = r.info("memory")
        except redis_errors() as exc:
            reason = self._failed(exc)
            if unreachable(exc):
                out["reason"] = f"unreachable ({reason}); showing the local disk cache"
                out["entries"] = out["local"].get("entries", 0)
            return out
        out["bytes"] = int(memory.get("used_memory", 0))
        out["size_limit"] = int(memory.get("maxmemory", 0))
        out["eviction"] = str(memory.get("maxmemory_policy", "?"))
        return out

    def close(self) -> None:
        """Close the local cache; the process-wide Redis client stays (the ledger may share it)."""
        self.local.close()


def redis_cache(settings: Settings, local: ExportableCache, warn: Warn) -> RedisCache:
    """`open_cache` for LLM_CACHE_BACKEND=redis: Redis, read through `local` (the disk cache)."""
    return RedisCache(
        settings.cache_url or "", local=local, ttl=settings.cache_ttl, warn=warn, timeout=redis_timeout(settings)
    )
