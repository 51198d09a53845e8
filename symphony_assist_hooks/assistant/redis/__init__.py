"""Team scale: the answer cache, the budget ledger and the stats events on one shared Redis (issue #8).

Turned on with ``LLM_CACHE_BACKEND=redis`` and ``LLM_CACHE_URL=redis://[user:password@]host:6379/0``
(also ``rediss://`` for TLS and ``unix:///path/redis.sock?db=0``; or ``llm_cache_backend`` /
``llm_cache_url`` under ``[tool.symphony-assist]``). Needs the ``redis`` extra
(``pip install 'symphony-assist[redis]'``); the ``redis`` package (~90-250 ms to import) is imported on
the first command a component sends (connection.py): never by the disk or memory backends, and never on
a cache hit this machine answers from its own disk. Put the password in the environment
(a CI secret), not in pyproject.toml, which is committed. Every message shows the URL with its
password masked (`mask_url`). A single server or a primary is expected: Redis Cluster is not supported.
Use ``rediss://`` beyond loopback, and an ACL user limited to the prefix and the commands used::

    ACL SETUSER symphony on >PASSWORD resetkeys ~symphony-assist:* resetchannels -@all +@read +@write
        +@scripting +@connection -@dangerous +info +time +scan

Anyone who can write those keys can plant answers (shown to developers as findings; model output is
treated as untrusted data everywhere) or rewrite the ledger: give the user to CI and the team only.

One module per component, each documenting its keys and semantics; all share one client per process:

* cache.py, `RedisCache`: ``cache:<sha256>``, answers with the cache TTL, read through this machine's
  disk cache (a local hit needs neither redis nor the server);
* ledger.py, `RedisLedger`: ``ledger:reservations``, ``ledger:spend``, ``ledger:meta`` (no TTL), the
  budget's rules as Lua scripts on the server's clock, failing closed;
* stats.py, `RedisStats`: ``stats``, a capped stream of usage events, sent in batches; `SpooledStats`
  keeps a local hit's events in a spool file until a run that loads redis anyway sends them;
* connection.py: the shared client, timeouts (``min(2 s, LLM timeout)``), and holding an unreachable
  server down for 30 s so that one run pays one timeout.

The names in `__all__` are importable from this package; each loads its module on first use, so the cache
path never parses the ledger's or the stats' code.

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

import importlib
from typing import TYPE_CHECKING

from ...config.keys import mask_url

if TYPE_CHECKING:
    from ..cache.redis import RedisCache, redis_cache
    from ..ledger.redis import RedisLedger, redis_ledger
    from .connection import PREFIX, RETRY_AFTER, redis_timeout
    from .stats import STREAM_MAXLEN, RedisStats, redis_stats

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

_HOMES = {
    "PREFIX": ".connection",
    "RETRY_AFTER": ".connection",
    "redis_timeout": ".connection",
    "RedisCache": "..cache.redis",
    "redis_cache": "..cache.redis",
    "RedisLedger": "..ledger.redis",
    "redis_ledger": "..ledger.redis",
    "STREAM_MAXLEN": ".stats",
    "RedisStats": ".stats",
    "redis_stats": ".stats",
}


def __getattr__(name: str) -> object:
    """The exported name, importing its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)
