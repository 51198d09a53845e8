"""`RedisLedger`: the budget ledger shared by everyone using the server (budget.py holds the rules).

Keys (``symphony-assist:`` prefix, in the URL's db): ``ledger:reservations`` (hash id -> JSON {amount,
day, month, expires_at, pid, host}), ``ledger:spend`` (hash UTC period ``YYYY-MM-DD`` / ``YYYY-MM`` ->
micro-dollars), ``ledger:meta`` (``last_day``, the monotone period marker). No TTL: spend must outlive
any cache entry.

It keeps the disk ledger's rules: month and day caps shared by everyone using the server, the run cap
per ledger object, every cap checked in one atomic step, reservations with an expiry swept on each
reserve (and those of dead processes on this host, identified by hostname, boot id and pid namespace so
that containers never sweep each other's), settlement into the periods a reservation was made in, a
monotone day marker. Reserve, settle and the sweep are Lua scripts, so they are atomic on the server.
Periods and expiries use the Redis server's clock (``TIME``), so laptops with skewed clocks agree on
the day and never sweep a live reservation early. An unreachable or failing server fails closed:
`reserve` raises BudgetError "budget: the shared ledger at <url> is unreachable (...); no paid call
was made" and the local analyzers answer.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from ...config.keys import mask_url
from ...errors import BudgetError, Warn
from ..redis import PREFIX, TIMEOUT_CAP, get_server, redis_errors, redis_timeout, unreachable
from .rules import Caps, Reservation, close_reservation, format_usd, over_cap, periods, pid_alive

if TYPE_CHECKING:
    import redis

    from ...config import Settings

__all__ = ["RedisLedger", "redis_ledger"]


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
        self._server = get_server(url, timeout)
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
        state = "is unreachable" if unreachable(exc) else "failed"
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
        except redis_errors():
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
            if entry.get("host") == host and pid != me and rid.decode() not in self._open and not pid_alive(pid):
                dead.append(rid.decode())
        return dead

    def reserve(self, amount: int) -> Reservation:
        if amount < 0:
            raise ValueError(f"a reservation cannot be negative ({amount})")
        with self._lock:
            run_refusal = None
            if self.caps.run is not None and amount > 0:
                in_flight = sum(r.amount for r in self._open.values())
                run_refusal = over_cap("run", self.caps.run, self._run_spent, in_flight, amount)
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
            except redis_errors() as exc:
                raise self._unusable(exc) from None
            status, day, month, swept, freed = reply[:5]
            if swept:
                self._warn(
                    f"budget: released {format_usd(int(freed))} held by {swept} unfinished call(s) "
                    "(their process is gone or the reservation expired)"
                )
            if status == 0:
                name, cap, spent, reserved = reply[5:]
                raise BudgetError(over_cap(str(name), int(cap), int(spent), int(reserved), amount) or str(name))
            if status == 2:
                raise BudgetError(run_refusal or "budget: run cap reached")
            res = Reservation(rid, amount, str(day), str(month))
            self._open[rid] = res
        return res

    def settle(self, res: Reservation, actual: int) -> None:
        with self._lock:
            self._run_spent += close_reservation(self._open, res, actual)
            try:
                r, _, settle = self._client()
                settle(self._keys[:2], [res.id, res.day, res.month, actual], client=r)
            except redis_errors() as exc:
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
            except redis_errors() as exc:
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
            except redis_errors() as exc:
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


def redis_ledger(
    settings: Settings, caps: Caps, *, warn: Warn, now: Callable[[], float] | None, lifetime: float
) -> RedisLedger:
    """`open_ledger` for LLM_CACHE_BACKEND=redis."""
    return RedisLedger(
        settings.cache_url or "", caps, warn=warn, now=now, lifetime=lifetime, timeout=redis_timeout(settings)
    )
