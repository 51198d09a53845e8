"""The answer cache against real diskcache directories and real processes."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest

from symphony_assist_hooks.assistant.cache import Cache, MemoryCache, NullCache, export_cache, import_cache, open_cache
from symphony_assist_hooks.assistant.cache.disk import DiskCache
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.errors import UsageError

HEAVY = ("openai", "pydantic", "jinja2", "httpx", "httpx2", "git", "redis", "tiktoken")


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        assert "\n" not in message, message
        self.append(message)


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache")


@pytest.fixture
def cache(settings: Settings, warnings: Warnings) -> Iterator[Cache]:
    c = open_cache(settings, warnings)
    assert isinstance(c, DiskCache)
    yield c
    c.close()


def responses(settings: Settings) -> Path:
    return settings.resolved_cache_dir / "responses"


def fill(cache: Cache, n: int, size: int = 100) -> None:
    for i in range(n):
        cache.set(f"k{i}", {"i": i, "text": os.urandom(size).hex()})


# ------------------------------------------------------------------------------------------ basics
def test_round_trip_returns_fresh_copies(cache: Cache, warnings: Warnings) -> None:
    value = {"data": [{"line": 3, "msg": "naïve ✓"}], "model": "m", "cost_micro": 12}
    cache.set("k", value)
    got = cache.get("k")
    assert got == value
    assert got is not None
    got["model"] = "changed"
    assert cache.get("k") == value
    assert cache.get("missing") is None
    assert warnings == []


def test_directory_is_private(cache: Cache, settings: Settings) -> None:
    assert stat.S_IMODE(responses(settings).stat().st_mode) == 0o700


def test_a_value_that_is_not_json_is_skipped_with_one_warning(cache: Cache, warnings: Warnings) -> None:
    cache.set("a", {"x": object()})
    cache.set("b", {"x": float("nan")})
    assert cache.get("a") is None
    assert cache.get("b") is None
    assert len(warnings) == 1
    assert "not a JSON object" in warnings[0]


def test_ttl_expiry_disk(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.set("default-ttl", {"v": 1})  # settings default: 86400 s
    cache.set("short", {"v": 2}, ttl=5)
    cache.set("forever", {"v": 3}, ttl=0)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 10)
    assert cache.get("short") is None
    assert cache.get("default-ttl") == {"v": 1}
    monkeypatch.setattr(time, "time", lambda: real() + 86400 * 3650)
    assert cache.get("default-ttl") is None
    assert cache.get("forever") == {"v": 3}


def test_ttl_expiry_memory() -> None:
    clock = [1000.0]
    cache = MemoryCache(ttl=60, now=lambda: clock[0])
    cache.set("a", {"v": 1})
    cache.set("b", {"v": 2}, ttl=0)
    clock[0] += 59
    assert cache.get("a") == {"v": 1}
    clock[0] += 2
    assert cache.get("a") is None
    assert cache.get("b") == {"v": 2}


def test_size_limit_evicts_least_recently_stored(tmp_path: Path, warnings: Warnings) -> None:
    limit = 1 << 20
    cache = DiskCache(tmp_path / "responses", size_limit=limit, ttl=0, warn=warnings)
    for i in range(40):  # ~64 KB of incompressible text each: about 2.5x the limit in total
        cache.set(f"k{i}", {"blob": os.urandom(24_000).hex()})
    assert cache.get("k0") is None
    assert cache.get("k39") is not None
    info = cache.info()
    assert info["entries"] < 40
    assert info["bytes"] <= limit + 12 * 70_000  # diskcache culls up to 10 entries per set
    assert warnings == []
    cache.close()


def test_memory_size_limit_evicts_oldest() -> None:
    cache = MemoryCache(size_limit=10_000)
    for i in range(10):
        cache.set(f"k{i}", {"blob": os.urandom(1500).hex()})
    assert cache.get("k0") is None
    assert cache.get("k9") is not None
    assert cache.info()["bytes"] <= 10_000


def test_clear_and_info(cache: Cache, settings: Settings) -> None:
    fill(cache, 5)
    info = cache.info()
    assert info["backend"] == "disk"
    assert info["path"] == str(responses(settings))
    assert info["entries"] == 5
    assert info["bytes"] > 0
    assert info["size_limit"] == settings.cache_size_limit
    assert info["ttl"] == settings.cache_ttl
    assert cache.clear() == 5
    assert cache.info()["entries"] == 0
    assert cache.get("k1") is None


@pytest.mark.hardening_local_state
def test_memory_backend_and_unreachable_redis(tmp_path: Path, warnings: Warnings) -> None:
    mem = open_cache(Settings(cache_backend="memory", cache_dir=tmp_path), warnings)
    assert mem.backend == "memory"
    mem.set("k", {"v": 1})
    assert mem.get("k") == {"v": 1}
    assert mem.clear() == 1
    assert not (tmp_path / "responses").exists()

    red = open_cache(Settings(cache_backend="redis", cache_url="redis://127.0.0.1:1", cache_dir=tmp_path), warnings)
    assert red.backend == "redis"
    assert red.get("k") is None  # unreachable: a miss, never an exception
    assert len(warnings) == 1
    assert "unreachable" in warnings[0]
    red.close()


# --------------------------------------------------------------------------------------- corruption
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
@pytest.mark.hardening_local_state
def test_corrupted_database_is_moved_aside_and_rebuilt(settings: Settings, warnings: Warnings, damage: str) -> None:
    cache = open_cache(settings, warnings)
    fill(cache, 300, 400)
    cache.close()
    db = responses(settings) / "cache.db"
    if damage == "garbage":
        db.write_bytes(b"not a database at all " * 500)
    else:
        with db.open("r+b") as fh:
            fh.truncate(db.stat().st_size // 2)

    cache = open_cache(settings, warnings)
    assert cache.backend == "disk"
    assert cache.get("k1") is None  # the first read finds the damage
    assert len(warnings) == 1
    assert "corrupted" in warnings[0]
    cache.set("new", {"v": 1})
    assert cache.get("new") == {"v": 1}
    quarantined = list(settings.resolved_cache_dir.glob("responses.corrupt-*"))
    assert len(quarantined) == 1
    assert (quarantined[0] / "cache.db").exists()
    assert len(warnings) == 1
    cache.clear()  # also removes the quarantined copies
    assert not list(settings.resolved_cache_dir.glob("responses.corrupt-*"))
    cache.close()


@pytest.mark.hardening_local_state
def test_corruption_found_while_open_is_repaired(settings: Settings, warnings: Warnings) -> None:
    cache = open_cache(settings, warnings)
    fill(cache, 500, 400)
    cache.close()  # checkpoints the WAL: every row now lives in cache.db
    cache = open_cache(settings, warnings)
    assert cache.get("k1") is not None
    db = responses(settings) / "cache.db"
    size = db.stat().st_size
    with db.open("r+b") as fh:  # keep page 1 (the header), wreck the table pages behind its back
        fh.seek(8192)
        fh.write(os.urandom(size - 8192 - 4096))
    found = [cache.get(f"k{i}") for i in range(0, 500, 50)]  # pages already cached may still answer
    assert None in found
    assert len(warnings) == 1
    assert "corrupted" in warnings[0]
    assert cache.get("k0") is None  # a fresh cache
    cache.set("after", {"v": 1})
    assert cache.get("after") == {"v": 1}


# ---------------------------------------------------------------------------------- unusable dirs
@pytest.mark.hardening_local_state
def test_unwritable_location_gives_a_null_cache(tmp_path: Path, warnings: Warnings) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache dir should be")
    cache = open_cache(Settings(cache_dir=blocker), warnings)
    assert isinstance(cache, NullCache)
    assert len(warnings) == 1
    assert "not caching" in warnings[0]
    cache.set("k", {"v": 1})
    assert cache.get("k") is None
    assert cache.info()["backend"] == "none"
    assert cache.info()["reason"]
    assert cache.clear() == 0


@pytest.mark.hardening_local_state
def test_responses_path_is_a_file(settings: Settings, warnings: Warnings) -> None:
    settings.resolved_cache_dir.mkdir()
    responses(settings).write_text("x")
    assert isinstance(open_cache(settings, warnings), NullCache)
    assert len(warnings) == 1


@pytest.mark.hardening_local_state
def test_world_writable_dir_is_tightened(settings: Settings, warnings: Warnings) -> None:
    responses(settings).mkdir(parents=True)
    os.chmod(responses(settings), 0o777)
    cache = open_cache(settings, warnings)
    assert cache.backend == "disk"
    assert stat.S_IMODE(responses(settings).stat().st_mode) == 0o700
    assert len(warnings) == 1
    assert "every user" in warnings[0]
    cache.close()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
@pytest.mark.hardening_local_state
def test_dir_owned_by_another_user_is_refused(settings: Settings, warnings: Warnings) -> None:
    responses(settings).mkdir(parents=True, mode=0o700)
    os.chown(responses(settings), 65534, 65534)
    cache = open_cache(settings, warnings)
    assert isinstance(cache, NullCache)
    assert "uid 65534" in warnings[0]


@pytest.mark.hardening_local_state
def test_disk_full_skips_writes_with_one_warning(cache: Cache, warnings: Warnings) -> None:
    cache.set("before", {"v": 1})
    assert isinstance(cache, DiskCache)
    inner = cache._writer

    class Full:
        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

        def set(self, *args: Any, **kwargs: Any) -> bool:
            raise sqlite3.OperationalError("database or disk is full")

    cache._writer = Full()
    cache.set("a", {"v": 1})
    cache.set("b", {"v": 1})
    assert cache.get("before") == {"v": 1}  # reads still work
    assert len(warnings) == 1
    assert "disk full" in warnings[0]
    cache._writer = inner


@pytest.mark.hardening_local_state
def test_a_read_only_database_keeps_serving_hits(cache: Cache, warnings: Warnings) -> None:
    cache.set("before", {"v": 1})
    assert isinstance(cache, DiskCache)
    calls = []

    class ReadOnly:
        def set(self, *args: Any, **kwargs: Any) -> bool:
            calls.append(args[0])
            raise sqlite3.OperationalError("attempt to write a readonly database")

        def close(self) -> None:
            pass

    cache._writer = ReadOnly()
    cache.set("a", {"v": 1})
    cache.set("b", {"v": 1})
    assert calls == ["a"]  # writes are turned off after the first refusal
    assert cache.get("before") == {"v": 1}
    assert len(warnings) == 1
    assert "cannot write" in warnings[0]


@pytest.mark.hardening_local_state
def test_threads_share_one_cache(cache: Cache) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.set(f"{n}-{i}", {"n": n, "i": i})
                assert cache.get(f"{n}-{i}") == {"n": n, "i": i}
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cache.info()["entries"] == 400


WRITER = """
import hashlib, json, sys
from pathlib import Path
from symphony_assist_hooks.assistant.cache import open_cache
from symphony_assist_hooks.config import Settings
warnings = []
cache = open_cache(Settings(cache_dir=Path(sys.argv[1])), warnings.append)
n = int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
bad = 0
for i in range(300):
    body = f"{n}-{i}-" + "x" * (i * 7)
    cache.set(f"{n}/{i}", {"body": body, "sum": hashlib.sha256(body.encode()).hexdigest()})
    for j in (i, i // 2):
        got = cache.get(f"{(n + j) % 4}/{j}")
        if got is not None and hashlib.sha256(got["body"].encode()).hexdigest() != got["sum"]:
            bad += 1
print(json.dumps({"bad": bad, "warnings": warnings}), flush=True)
"""


@pytest.mark.hardening_local_state
def test_four_processes_write_and_read_without_errors(settings: Settings) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(settings.resolved_cache_dir), str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], outputs
    reports = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    assert all(r == {"bad": 0, "warnings": []} for r in reports), reports


# ------------------------------------------------------------------------------------------ pickle
class Planted:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


@pytest.mark.hardening_local_state
def test_a_planted_pickle_is_never_loaded(cache: Cache, settings: Settings, tmp_path: Path) -> None:
    cache.set("good", {"v": 1})
    small, large = tmp_path / "pwned-small", tmp_path / "pwned-large"
    attacker = diskcache.Cache(str(responses(settings)))  # the default Disk pickles
    attacker.set("small", Planted(small))
    attacker.set("large", [Planted(large), "x" * 100_000])  # > 32 KB: pickled into a file
    attacker.set(("tuple", "key"), Planted(small))  # a pickled key too
    attacker.close()
    assert pickle.loads(pickle.dumps("sanity")) == "sanity"

    assert cache.get("small") is None
    assert cache.get("large") is None
    out = tmp_path / "export.jsonl"
    assert export_cache(cache, out) == 1
    assert cache.info()["entries"] == 4
    assert not small.exists()
    assert not large.exists()
    assert cache.get("good") == {"v": 1}


# --------------------------------------------------------------------------------------- contention
HOLDER = """
import sys, time, diskcache
cache = diskcache.Cache(sys.argv[1])
with cache.transact():
    print("locked", flush=True)
    time.sleep(600)  # until the test kills it
"""
HANG_GUARD = 30.0  # seconds: a hang detector, not a speed check (blocked calls wait 60 s, or for ever)


def unblocked(fn: Any) -> Any:
    """fn()'s result, failing the test when fn is still waiting after HANG_GUARD seconds."""
    done: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: done.setdefault("result", fn()), daemon=True)
    worker.start()
    worker.join(HANG_GUARD)
    assert not worker.is_alive(), "blocked behind another process's write lock"
    return done.get("result")


@pytest.mark.hardening_local_state
def test_a_held_write_lock_never_blocks(settings: Settings, warnings: Warnings) -> None:
    cache = open_cache(settings, warnings)
    cache.set("old", {"v": 1})
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(responses(settings))], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        unblocked(lambda: cache.set("new", {"v": 2}))  # waits the 1 s lock timeout, then skips the write
        assert unblocked(lambda: cache.get("old")) == {"v": 1}  # WAL: readers are not blocked by the writer
        assert cache.get("new") is None

        other = open_cache(settings, warnings)  # another process starting while the lock is held
        assert other.get("old") == {"v": 1}
        unblocked(lambda: other.set("x", {"v": 4}))  # diskcache's own constructor would wait here until the kill
        assert other.get("x") is None
        other.close()
    finally:
        proc.kill()
        proc.wait()
    assert warnings == []  # contention is normal: nothing to tell the user
    cache.set("after", {"v": 5})  # writes were paused, not turned off
    assert cache.get("after") is None
    assert isinstance(cache, DiskCache)
    cache._writes_paused_until = 0.0
    cache.set("after", {"v": 5})
    assert cache.get("after") == {"v": 5}
    cache.close()


def test_clearing_while_another_process_holds_the_lock_says_busy(settings: Settings, warnings: Warnings) -> None:
    cache = open_cache(settings, warnings)
    cache.set("old", {"v": 1})
    cache.close()  # the next operation opens diskcache again, while the lock is held
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(responses(settings))], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        assert unblocked(cache.clear) == 0
    finally:
        proc.kill()
        proc.wait()
    assert warnings == [f"cache: {responses(settings)} is busy; cleared part of it, run again"]
    assert cache.clear() == 1  # the lock is gone: cleared for real
    assert cache.get("old") is None


# ----------------------------------------------------------------------------------- storage format
def test_the_format_read_on_a_hit_is_the_one_the_installed_diskcache_writes(settings: Settings) -> None:
    """A database created by diskcache's public API alone is read without diskcache (the format check passes)."""
    from diskcache import core

    from symphony_assist_hooks.assistant.cache import disk

    assert (disk._MODE_RAW, disk._MODE_BINARY, disk._DBNAME) == (core.MODE_RAW, core.MODE_BINARY, core.DBNAME)
    plain = diskcache.Cache(str(responses(settings)), disk=diskcache.Disk)
    plain.set("small", b"x", expire=600)
    plain.close()
    con = sqlite3.connect(responses(settings) / "cache.db")
    assert tuple(con.execute(disk._FORMAT_QUERY).fetchall()) == disk._FORMAT
    con.close()


@pytest.mark.hardening_local_state
def test_a_database_in_another_format_is_read_through_diskcache(settings: Settings, warnings: Warnings) -> None:
    """A future diskcache that changes its table: answers are still served, through its public API."""
    cache = open_cache(settings, warnings)
    cache.set("small", {"v": 1})
    cache.set("large", {"v": "x" * 100_000})  # kept in a file beside the database
    cache.close()
    con = sqlite3.connect(responses(settings) / "cache.db")
    con.execute("ALTER TABLE Cache ADD COLUMN checksum BLOB")
    con.close()

    again = open_cache(settings, warnings)
    assert again.get("small") == {"v": 1}
    assert again.get("large") == {"v": "x" * 100_000}
    assert again.get("missing") is None
    assert sorted(key for key, _, _ in again.entries()) == ["large", "small"]
    assert again.info()["entries"] == 2
    again.set("k", {"v": 2})
    assert again.get("k") == {"v": 2}
    again.close()
    assert warnings == []
    hit = subprocess.run([sys.executable, "-c", HIT, str(settings.resolved_cache_dir)], capture_output=True, text=True)
    report = json.loads(hit.stdout.splitlines()[-1])
    assert report["value"] == {"v": 2}
    assert "diskcache" in report["modules"]  # through its public API (in our format a hit never imports it)


# ------------------------------------------------------------------------------------ export/import
def test_export_import_round_trip(cache: Cache, tmp_path: Path, warnings: Warnings) -> None:
    cache.set("a", {"v": [1, 2, "ü"]})
    cache.set("b", {"v": 2}, ttl=0)
    out = tmp_path / "cache.jsonl"
    assert export_cache(cache, out) == 2
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {line["key"] for line in lines} == {"a", "b"}
    by_key = {line["key"]: line for line in lines}
    assert by_key["b"]["expire_at"] is None
    assert by_key["a"]["expire_at"] > time.time() + 86000

    target = DiskCache(tmp_path / "other", size_limit=1 << 24, ttl=0, warn=warnings)
    assert import_cache(target, out) == 2
    assert target.get("a") == {"v": [1, 2, "ü"]}
    exported_again = tmp_path / "again.jsonl"
    export_cache(target, exported_again)
    again = {json.loads(line)["key"]: json.loads(line) for line in exported_again.read_text().splitlines()}
    assert abs(again["a"]["expire_at"] - by_key["a"]["expire_at"]) < 1
    target.close()

    memory = MemoryCache()
    assert import_cache(memory, out) == 2
    assert memory.get("b") == {"v": 2}
    assert warnings == []


@pytest.mark.hardening_local_state
def test_import_skips_expired_and_rejects_malformed_lines(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"key": "old", "value": {"v": 1}, "expire_at": time.time() - 5})
        + "\n\n"
        + json.dumps({"key": "ok", "value": {"v": 2}, "expire_at": None})
        + "\n"
    )
    memory = MemoryCache()
    assert import_cache(memory, src) == 1
    assert memory.get("old") is None

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"key": "ok", "value": {}}) + "\n" + json.dumps({"key": 1, "value": {}}) + "\n")
    with pytest.raises(UsageError, match=r"bad\.jsonl:2: expected"):
        import_cache(memory, bad)
    bad.write_text("{not json\n")
    with pytest.raises(UsageError, match=r"bad\.jsonl:1: not a cache export line"):
        import_cache(memory, bad)


# --------------------------------------------------------------------------------------- hit path
HIT = """
import json, sys
from pathlib import Path
from symphony_assist_hooks.assistant.cache import open_cache
from symphony_assist_hooks.config import Settings
cache = open_cache(Settings(cache_dir=Path(sys.argv[1])), print)
value = cache.get("k")
print(json.dumps({"value": value, "modules": sorted(sys.modules)}))
"""


def test_hit_in_a_fresh_interpreter_imports_nothing_heavy(settings: Settings, warnings: Warnings) -> None:
    cache = open_cache(settings, warnings)
    cache.set("k", {"v": 1})
    cache.close()
    proc = subprocess.run(
        [sys.executable, "-c", HIT, str(settings.resolved_cache_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["value"] == {"v": 1}
    heavy = [m for m in report["modules"] if m.split(".")[0] in HEAVY]
    assert heavy == []
    assert "diskcache" not in report["modules"]  # a hit reads SQLite directly
    ours = [m for m in report["modules"] if m.startswith("symphony_assist_hooks.assistant.")]
    assert "symphony_assist_hooks.assistant.cache.disk_writer" not in ours  # the write side is parsed on a write only
    assert [m for m in ours if m.startswith("symphony_assist_hooks.assistant.redis")] == []


def test_a_large_answer_kept_in_a_file_is_read_back_and_a_tampered_row_is_a_miss(
    cache: Cache, settings: Settings, warnings: Warnings
) -> None:
    """diskcache keeps a value over 32 KB in a file beside the database; the hit path reads that file, and
    never one a row points to outside the cache directory."""
    big = {"text": os.urandom(48_000).hex()}  # ~96 KB of hex: over 32 KB even compressed
    cache.set("big", big)
    cache.set("small", {"v": 1})
    assert cache.get("big") == big
    assert list(responses(settings).rglob("*.val")) != []  # really a file, not a row

    outside = settings.resolved_cache_dir / "planted.val"
    outside.write_bytes(next(iter(responses(settings).rglob("*.val"))).read_bytes())
    con = sqlite3.connect(responses(settings) / "cache.db")
    con.execute("UPDATE Cache SET filename = ? WHERE key = 'big'", ("../planted.val",))
    con.commit()
    con.close()
    cache.close()
    assert cache.get("big") is None  # a path outside the cache is never followed
    assert cache.get("small") == {"v": 1}

    cache.set("big2", big)
    for value_file in responses(settings).rglob("*.val"):
        value_file.unlink()  # evicted by another process between the row and the file
    assert cache.get("big2") is None
    assert warnings == []
