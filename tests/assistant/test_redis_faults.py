"""Team mode when Redis misbehaves: unreachable from the start, stopped between two calls, a server
that refuses INFO, a stream with foreign entries, a spool that cannot be written or holds torn lines.

Real redis-server processes (tests/redis_server.py); helpers and the per-test client reset come from
test_redis.py.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer
from test_redis import Warnings, _fresh_clients, client, team  # noqa: F401 - _fresh_clients: autouse

from symphony_assist_hooks.assistant.cache import open_cache
from symphony_assist_hooks.assistant.cache.codec import encode
from symphony_assist_hooks.assistant.cache.redis import SCAN_COUNT, RedisCache
from symphony_assist_hooks.assistant.ledger import open_ledger
from symphony_assist_hooks.assistant.redis import PREFIX
from symphony_assist_hooks.assistant.stats.redis import RedisStats, SpooledStats


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


def _closed_url(closed_port_url: str) -> str:
    return "redis://" + closed_port_url.removeprefix("http://").removesuffix("/v1") + "/0"


# ------------------------------------------------------------------------------------------ the cache
def test_unreachable_from_the_start_export_and_clear_use_this_machine(
    closed_port_url: str, tmp_path: Path, warnings: Warnings
) -> None:
    cache = open_cache(team(_closed_url(closed_port_url), tmp_path), warnings)
    assert isinstance(cache, RedisCache)
    cache.set("a", {"v": 1})  # Redis refused: kept on this machine
    cache.set("b", {"v": 2})
    assert sorted((k, v) for k, v, _ in cache.entries()) == [("a", {"v": 1}), ("b", {"v": 2})]
    assert cache.clear() == 2  # what this machine held
    assert list(cache.entries()) == []
    assert len(warnings) == 1 and "is unreachable" in warnings[0]


def test_restore_refuses_expired_entries_and_values_that_are_not_json(
    redis_url: str, tmp_path: Path, warnings: Warnings
) -> None:
    cache = open_cache(team(redis_url, tmp_path), warnings)
    assert cache.restore("old", {"v": 1}, time.time() - 1) is False
    assert cache.restore("odd", {"v": math.nan}, None) is False
    assert cache.restore("odd", {"v": {1, 2}}, None) is False  # a set: said once
    assert cache.restore("fresh", {"v": 3}, time.time() + 60) is True
    r = client(redis_url)
    assert sorted(k.decode() for k in r.keys(PREFIX + "cache:*")) == [PREFIX + "cache:fresh"]
    assert cache.get("old") is None and cache.get("odd") is None
    assert len(warnings) == 1
    assert warnings[0].startswith("cache: not caching a value that is not a JSON object (")


@pytest.fixture
def no_info(tmp_path: Path) -> Iterator[RedisServer]:
    """A server whose operator disabled INFO (as a managed Redis or an ACL may)."""
    server = RedisServer(tmp_path / "redis", "--rename-command", "INFO", "").start()
    yield server
    server.stop()


def test_a_server_without_info_still_serves_the_cache_and_the_ledger(
    no_info: RedisServer, tmp_path: Path, warnings: Warnings
) -> None:
    s = team(no_info.url(), tmp_path, budget_monthly=1.0)
    cache = open_cache(s, warnings)
    cache.set("k", {"v": 1})
    info = cache.info()
    assert (info["entries"], info["bytes"], "eviction" in info, "reason" in info) == (1, 0, False, False)
    assert warnings == [
        f"cache: the shared cache at {no_info.url()} refused a command (unknown command 'INFO', with args "
        "beginning with: 'memory'); continuing"
    ]
    ledger = open_ledger(s, warn=warnings)
    ledger.settle(ledger.reserve(100), 60)  # the eviction policy cannot be checked: the ledger works on
    assert ledger.status()["month"]["spent"] == 60
    assert len(warnings) == 1  # nothing more from the ledger


# ------------------------------------------------------------------------------------------ the ledger
def test_redis_gone_between_reserve_and_settle_is_a_warning_not_a_failure(
    private_redis: RedisServer, tmp_path: Path, warnings: Warnings
) -> None:
    ledger = open_ledger(team(private_redis.url(), tmp_path, budget_monthly=1.0), warn=warnings)
    paid = ledger.reserve(100)
    unused = ledger.reserve(50)
    with pytest.raises(ValueError, match="cannot be negative"):
        ledger.reserve(-1)
    private_redis.stop()
    ledger.settle(paid, 80)  # the call happened: never raise now
    ledger.release(unused)
    ledger.release(unused)  # already released: nothing to say
    assert len(warnings) == 2
    assert warnings[0].startswith(
        f"budget: could not record $0.00008 spent in the shared ledger at {private_redis.url()}"
    )
    assert warnings[0].endswith("; the shared ledger under-counts this call")
    assert warnings[1].startswith(f"budget: could not release a reservation at {private_redis.url()} (")
    assert warnings[1].endswith("); it will expire")


# ------------------------------------------------------------------------------------------ the stats stream
def test_foreign_entries_in_the_stream_are_skipped(redis_url: str, warnings: Warnings) -> None:
    r = client(redis_url)
    stream = PREFIX + "stats"
    r.xadd(stream, {"event": json.dumps({"source": "api", "n": 1})})
    r.xadd(stream, {"event": b"{torn"})  # not JSON
    r.xadd(stream, {"event": json.dumps(["a", "list"])})  # JSON, not an event
    r.xadd(stream, {"other": b"field"})  # no event at all
    r.xadd(stream, {"event": json.dumps({"source": "cache", "n": 2})})
    events = list(RedisStats(redis_url, warn=warnings).read() or [])
    assert [e["n"] for e in events] == [1, 2]
    assert warnings == []


def test_reading_stops_with_one_warning_when_redis_goes_away_midway(
    private_redis: RedisServer, warnings: Warnings
) -> None:
    r = client(private_redis.url())
    pipe = r.pipeline(transaction=False)
    for i in range(1500):  # two pages of 1000
        pipe.xadd(PREFIX + "stats", {"event": json.dumps({"i": i})})
    pipe.execute()
    events = iter(RedisStats(private_redis.url(), warn=warnings).read() or [])
    first_page = [next(events)["i"] for _ in range(1000)]
    private_redis.stop()
    assert list(events) == []  # the rest is unreadable: what was read stays, no exception
    assert first_page == list(range(1000))
    assert len(warnings) == 1
    assert warnings[0].startswith(f"stats: reading the team's events at {private_redis.url()} stopped (")


def test_a_process_with_redis_loaded_sends_straight_to_the_stream(
    redis_url: str, tmp_path: Path, warnings: Warnings
) -> None:
    """The spool only saves a hit from importing redis: once it is imported anyway, nothing is spooled."""
    spool = tmp_path / "stats-spool.jsonl"
    sink = SpooledStats(team(redis_url, tmp_path), warnings, spool)
    assert sink.error is None  # not connected yet: nothing failed
    sink.send({"source": "cache", "n": 1})
    sink.flush()
    assert sink.error is None
    assert [json.loads(f[b"event"]) for _, f in client(redis_url).xrange(PREFIX + "stats")] == [
        {"source": "cache", "n": 1}
    ]
    assert not spool.exists()


def test_a_spool_with_torn_lines_sends_the_whole_events(redis_url: str, tmp_path: Path, warnings: Warnings) -> None:
    spool = tmp_path / "stats-spool.jsonl"
    spool.write_text('{"source": "cache", "n": 1}\n{"source": "ca\n["not", "an", "event"]\n{"source": "api", "n": 2}\n')
    sink = SpooledStats(team(redis_url, tmp_path), warnings, spool)
    sink.flush()  # redis is imported in this process: the spool is claimed and sent now
    events = [json.loads(f[b"event"]) for _, f in client(redis_url).xrange(PREFIX + "stats")]
    assert [e["n"] for e in events] == [1, 2]
    assert not spool.exists()
    assert list(SpooledStats(team(redis_url, tmp_path), warnings, None).read() or []) == events  # no spool at all
    assert warnings == []


def test_a_spooled_sink_that_never_connected_flushes_nothing(redis_url: str, tmp_path: Path) -> None:
    sink = SpooledStats(team(redis_url, tmp_path), Warnings(), None)  # no spool file, nothing sent yet
    sink.flush()
    assert sink.error is None
    assert client(redis_url).xlen(PREFIX + "stats") == 0


def test_an_export_cut_short_by_redis_keeps_what_it_read_and_adds_nothing_local(
    private_redis: RedisServer, tmp_path: Path, warnings: Warnings
) -> None:
    cache = open_cache(team(private_redis.url(), tmp_path), warnings)
    cache.set("mine", {"local": True})  # this machine holds a copy too
    r = client(private_redis.url())
    pipe = r.pipeline(transaction=False)
    for i in range(1199):  # 1200 entries: three scan batches of at most 500
        pipe.set(PREFIX + f"cache:k{i}", encode({"i": i}))
    pipe.execute()
    entries = cache.entries()
    first = next(entries)  # the first batch is read whole
    private_redis.stop()
    rest = list(entries)
    assert 1 + len(rest) == SCAN_COUNT  # what was read stays; the local copy is not mixed into a team export
    assert first not in rest
    assert len(warnings) == 1 and "is unreachable" in warnings[0]
