"""Team mode (#8): cache, ledger and stats on a real redis-server (tests/redis_server.py), real processes."""

from __future__ import annotations

import calendar
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis_server import RedisServer

from symphony_assist_hooks.assistant import redis as redis_conn
from symphony_assist_hooks.assistant.cache import NullCache, export_cache, import_cache, open_cache
from symphony_assist_hooks.assistant.cache.disk import DiskCache
from symphony_assist_hooks.assistant.cache.redis import RedisCache
from symphony_assist_hooks.assistant.ledger import Ledger, open_ledger
from symphony_assist_hooks.assistant.ledger import redis as redis_ledger_mod
from symphony_assist_hooks.assistant.ledger.disk import DiskLedger
from symphony_assist_hooks.assistant.ledger.redis import RedisLedger
from symphony_assist_hooks.assistant.ledger.rules import Caps, periods
from symphony_assist_hooks.assistant.redis import PREFIX
from symphony_assist_hooks.assistant.stats import StatsLog
from symphony_assist_hooks.assistant.stats import redis as redis_stats_mod
from symphony_assist_hooks.assistant.stats.redis import RedisStats, redis_stats
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.config.keys import mask_url
from symphony_assist_hooks.errors import BudgetError

JAN_31_LAST_SECOND = calendar.timegm((2026, 1, 31, 23, 59, 59)) + 0.9
DAY = 86400.0
PASSWORD = "pw-" + "".join(random.choice("abcdefghkmnpqrstuvwxyz23456789") for _ in range(16))
# A hang detector, not a speed check: where the failing case is a wait for a server that never answers, the
# test fails after this long instead of never ending. No test here measures how fast anything is.
HANG_GUARD = 30.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        assert "\n" not in message, message
        self.append(message)


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Each test starts with no process-wide client and no server held down (ports get reused)."""
    redis_conn._servers.clear()
    yield
    for server in redis_conn._servers.values():
        if server._client is not None:
            server._client.close()
    redis_conn._servers.clear()


def team(url: str, tmp_path: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {"budget_run": None, "budget_daily": None, "budget_monthly": None, "timeout": 5.0}
    base.update(values)
    return Settings(cache_backend="redis", cache_url=url, cache_dir=tmp_path / "cache", **base)


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5)


class Wire:
    """What this process sends to one port, counted at the socket: connection attempts and writes
    (redis-py connects with `socket.connect` and sends each command with `sendall`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, port: int) -> None:
        self.connects = 0
        self.sends = 0
        real_connect, real_sendall = socket.socket.connect, socket.socket.sendall

        def connect(sock: socket.socket, address: Any) -> None:
            if isinstance(address, tuple) and address[1] == port:
                self.connects += 1
            real_connect(sock, address)

        def sendall(sock: socket.socket, data: Any, *flags: int) -> None:
            try:
                peer = sock.getpeername()
            except OSError:
                peer = None
            if isinstance(peer, tuple) and peer[1] == port:
                self.sends += 1
            real_sendall(sock, data, *flags)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "sendall", sendall)


def within_hang_guard(steps: Callable[[], None]) -> None:
    """Run `steps` in a thread; fail if they have not returned after HANG_GUARD (they wait on a server that
    never answers). An exception in `steps` is raised here."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            steps()
        except BaseException as exc:  # handed to the test
            failure.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_GUARD)
    assert not worker.is_alive(), f"still waiting after {HANG_GUARD:g} s: no timeout applied"
    if failure:
        raise failure[0]


# --------------------------------------------------------------------------------------------- URL
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:hunter2@cache:6379/2", "redis://:***@cache:6379/2"),
        ("rediss://team:hunter2@cache.example:6380/0", "rediss://team:***@cache.example:6380/0"),
        ("redis://hunter2@cache/0", "redis://***@cache/0"),  # redis-py would send it as a credential
        ("unix:///run/redis.sock?db=1&password=hunter2", "unix:///run/redis.sock?db=1&password=***"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert "hunter2" not in mask_url(url)


# ------------------------------------------------------------------------------------------- cache
def test_open_cache_and_ledger_pick_redis(redis_url: str, tmp_path: Path, warnings: Warnings) -> None:
    s = team(redis_url, tmp_path)
    cache = open_cache(s, warnings)
    assert isinstance(cache, RedisCache)
    assert isinstance(cache.local, DiskCache)
    assert isinstance(open_ledger(s, warn=warnings), RedisLedger)
    cache.set("k", {"answer": "é" * 3})
    assert cache.get("k") == {"answer": "ééé"}
    assert cache.get("missing") is None
    info = cache.info()
    assert info["backend"] == "redis"
    assert info["entries"] == 1
    assert info["path"] == redis_url
    assert info["local"]["backend"] == "disk"  # both tiers: the team's and this machine's copy
    assert info["local"]["entries"] == 1
    assert info["local"]["path"] == str(tmp_path / "cache" / "responses")
    assert warnings == []
    cache.close()


def test_pyproject_selects_the_shared_cache_and_the_environment_its_url(
    redis_url: str, tmp_path: Path, warnings: Warnings
) -> None:
    """A repository may choose the redis backend; where it is (the URL, maybe with a password) and the
    cache dir come only from the environment: a repository's own `llm_cache_url` is ignored."""
    from symphony_assist_hooks.config import load_settings

    body = 'llm_cache_backend = "redis"\nllm_cache_url = "redis://attacker.invalid:6379/0"\ncache_dir = "/tmp/x"\n'
    (tmp_path / "pyproject.toml").write_text("[tool.symphony-assist]\n" + body, encoding="utf-8")
    env = {"LLM_CACHE_URL": redis_url, "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "c")}
    cache = open_cache(load_settings(env=env, cwd=tmp_path), warnings)
    assert isinstance(cache, RedisCache)
    cache.set("k", {"v": 1})
    assert client(redis_url).exists(PREFIX + "cache:k") == 1


def test_a_unix_socket_with_password_and_db(tmp_path: Path, warnings: Warnings) -> None:
    sock = tmp_path / "r.sock"
    server = RedisServer(tmp_path / "redis", "--unixsocket", str(sock), "--requirepass", PASSWORD).start()
    try:
        url = f"unix://{sock}?db=3&password={PASSWORD}"
        s = team(url, tmp_path, budget_monthly=1.0)
        cache = open_cache(s, warnings)
        cache.set("k", {"v": 1})
        ledger = open_ledger(s, warn=warnings)
        ledger.settle(ledger.reserve(5), 5)
        db3 = redis.Redis(unix_socket_path=str(sock), password=PASSWORD, db=3)
        assert db3.exists(PREFIX + "cache:k", PREFIX + "ledger:spend") == 2
        assert cache.info()["path"] == f"unix://{sock}?db=3&password=***"
        assert warnings == []
    finally:
        server.stop()


def test_rediss_to_a_server_without_tls_falls_back_in_bounded_time(
    private_redis: RedisServer, tmp_path: Path, warnings: Warnings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TLS handshake with a plain Redis never completes (the server waits for the end of a command): the
    connect timeout ends it, once for the cache and the ledger together. Without a timeout it would wait
    forever: the hang guard turns that into a failure."""
    s = team(private_redis.url().replace("redis://", "rediss://"), tmp_path, timeout=1.0, budget_monthly=1.0)
    wire = Wire(monkeypatch, private_redis.port)
    refused: list[BudgetError] = []

    def steps() -> None:
        cache = open_cache(s, warnings)
        assert cache.get("k") is None
        with pytest.raises(BudgetError, match=r"is unreachable \(Timeout connecting to server\)") as info:
            open_ledger(s, warn=warnings).reserve(1)
        refused.append(info.value)

    within_hang_guard(steps)
    assert refused
    assert wire.connects == 1  # one timeout paid: the ledger found the server held down
    assert len(warnings) == 1
    assert "is unreachable (Timeout connecting to server)" in warnings[0]


def server_ms(r: Any) -> int:
    """Redis's own clock, in milliseconds (TIME)."""
    seconds, micros = r.time()
    return int(seconds) * 1000 + int(micros) // 1000


def test_values_are_compressed_json_with_a_ttl(redis_url: str, tmp_path: Path) -> None:
    cache = open_cache(team(redis_url, tmp_path, cache_ttl=120), print)
    r = client(redis_url)
    before = server_ms(r)
    cache.set("k", {"v": [1, 2, 3]})
    after = server_ms(r)
    cache.set("forever", {"v": 0}, ttl=0)
    blob = r.get(PREFIX + "cache:k")
    assert isinstance(blob, bytes)
    import zlib

    assert json.loads(zlib.decompress(blob)) == {"v": [1, 2, 3]}
    # the expiry Redis holds is the write's own time + 120 s (Redis's clock, bracketed: no elapsed-time bound)
    assert before + 120_000 <= int(r.pexpiretime(PREFIX + "cache:k")) <= after + 120_000
    assert int(r.ttl(PREFIX + "cache:forever")) == -1


def test_ttl_expiry(redis_url: str, tmp_path: Path) -> None:
    cache = open_cache(team(redis_url, tmp_path), print)
    cache.set("short", {"v": 1}, ttl=1)
    assert cache.get("short") == {"v": 1}
    time.sleep(1.1)
    assert cache.get("short") is None
    assert client(redis_url).exists(PREFIX + "cache:short") == 0


MACHINE = """
import json, sys
from symphony_assist_hooks.assistant.cache import open_cache
from symphony_assist_hooks.config import load_settings

cache = open_cache(load_settings(), lambda message: print("WARN", message))
if sys.argv[1] == "set":
    cache.set("shared-key", {"findings": ["from machine A"]})
print(json.dumps({"got": cache.get("shared-key"), "backend": cache.backend, "modules": sorted(sys.modules)}))
"""


def run_machine(url: str, cache_dir: Path, action: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "LLM_CACHE_BACKEND": "redis",
        "LLM_CACHE_URL": url,
        "SYMPHONY_ASSIST_CACHE_DIR": str(cache_dir),
    }
    proc = subprocess.run([sys.executable, "-c", MACHINE, action], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "WARN" not in proc.stdout
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_two_machines_share_hits(redis_url: str, tmp_path: Path) -> None:
    a, b = tmp_path / "laptop-a", tmp_path / "ci-runner-b"
    assert run_machine(redis_url, b, "get")["got"] is None
    first = run_machine(redis_url, a, "set")
    assert first["got"] == {"findings": ["from machine A"]}
    second = run_machine(redis_url, b, "get")
    assert second["backend"] == "redis"
    assert second["got"] == {"findings": ["from machine A"]}
    assert "openai" not in {m.split(".")[0] for m in second["modules"]}
    # A's answer is on A's disk too (the fallback), never on B's: B only read it.
    assert DiskCache(a / "responses", size_limit=1 << 20, ttl=0, warn=print).get("shared-key") is not None
    assert DiskCache(b / "responses", size_limit=1 << 20, ttl=0, warn=print).get("shared-key") is None


def test_a_local_hit_imports_no_redis_and_never_contacts_the_server(private_redis: RedisServer, tmp_path: Path) -> None:
    url = private_redis.url()
    laptop, runner = tmp_path / "laptop", tmp_path / "ci-runner"
    answer = {"findings": ["from machine A"]}
    assert run_machine(url, laptop, "set")["got"] == answer
    watcher = client(url)
    connections = int(watcher.info("stats")["total_connections_received"])
    hit = run_machine(url, laptop, "get")
    assert hit["got"] == answer
    assert int(watcher.info("stats")["total_connections_received"]) == connections  # no connection opened
    team_code = ("symphony_assist_hooks.assistant.ledger.redis", "symphony_assist_hooks.assistant.stats.redis")
    assert [m for m in hit["modules"] if m.split(".")[0] == "redis" or m.startswith(team_code)] == []

    elsewhere = run_machine(url, runner, "get")  # another machine: a local miss, answered by Redis
    assert elsewhere["got"] == answer
    assert "redis" in elsewhere["modules"]

    private_redis.stop()
    offline = run_machine(url, laptop, "get")  # run_machine fails on any warning: nothing was tried
    assert offline["got"] == answer
    assert [m for m in offline["modules"] if m.split(".")[0] == "redis"] == []


def test_the_local_copy_never_outlives_the_team_copy(redis_url: str, tmp_path: Path) -> None:
    cache = open_cache(team(redis_url, tmp_path, cache_ttl=120), print)
    assert isinstance(cache, RedisCache)
    before = time.time()
    cache.set("k", {"v": 1})  # the first write: imports redis, connects, opens diskcache
    cache.set("short", {"v": 2}, ttl=5)
    cache.set("forever", {"v": 3}, ttl=0)
    after = time.time()
    local = {key: expire_at for key, _, expire_at in cache.local.entries()}
    r = client(redis_url)
    for key, ttl in (("k", 120), ("short", 5)):
        expire_at = local[key]
        assert expire_at is not None
        assert (
            before + ttl - 0.3 < expire_at < after + ttl
        )  # the same TTL (less the clock grain), from before the write
        team_left = int(r.pttl(PREFIX + "cache:" + key)) / 1000
        assert expire_at - time.time() <= team_left  # never more time left than the team's copy
    assert local["forever"] is None
    assert int(r.ttl(PREFIX + "cache:forever")) == -1


def test_export_import_round_trip(redis_url: str, tmp_path: Path) -> None:
    cache = open_cache(team(redis_url, tmp_path, cache_ttl=3600), print)
    cache.set("k0", {"i": 0}, ttl=1800)  # not the default TTL: an import that reset it would show
    for i in range(1, 700):  # more than one SCAN batch
        cache.set(f"k{i}", {"i": i})
    cache.set("forever", {"i": -1}, ttl=0)
    r = client(redis_url)
    expires = int(r.pexpiretime(PREFIX + "cache:k0"))
    dump = tmp_path / "team.jsonl"
    assert export_cache(cache, dump) == 701
    assert dump.stat().st_mode & 0o777 == 0o600
    assert cache.clear() == 701
    assert isinstance(cache, RedisCache)
    assert cache.local.info()["entries"] == 0  # both tiers
    assert cache.get("k5") is None
    assert import_cache(cache, dump) == 701
    assert cache.get("k699") == {"i": 699}
    # The absolute expiry was kept: re-set, it would be 1800 s later than before (the default 3600 s TTL from
    # the import); kept, it moves only by the rounding of the exported expiry (the bound is logic, not speed).
    assert abs(int(r.pexpiretime(PREFIX + "cache:k0")) - expires) < 600_000
    assert int(r.ttl(PREFIX + "cache:forever")) == -1
    # The same file seeds a disk cache (CI without Redis) and back.
    disk = open_cache(Settings(cache_dir=tmp_path / "ci"), print)
    assert import_cache(disk, dump) == 701
    assert disk.get("k42") == {"i": 42}


def test_cache_commands_on_redis(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from symphony_assist_hooks.cli import main

    monkeypatch.setenv("LLM_CACHE_BACKEND", "redis")
    monkeypatch.setenv("LLM_CACHE_URL", redis_url)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    open_cache(team(redis_url, tmp_path / "other"), print).set("k", {"v": 1})
    dump = tmp_path / "out.jsonl"
    assert main(["cache", "export", str(dump)]) == 0
    assert "exported 1 answers" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert main(["cache", "import", str(dump)]) == 0
    assert "imported 1 answers" in capsys.readouterr().out
    assert main(["cache", "info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backend"] == "redis"
    assert info["entries"] == 1


# ---------------------------------------------------------------------------------------- faults
def test_redis_stopped_mid_run(
    private_redis: RedisServer, tmp_path: Path, warnings: Warnings, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = team(private_redis.url(), tmp_path, budget_monthly=1.0)
    cache = open_cache(s, warnings)
    ledger = open_ledger(s, warn=warnings)
    cache.set("before", {"v": 1})
    ledger.settle(ledger.reserve(100), 60)
    stats = StatsLog(tmp_path / "stats.jsonl", "run", sink=redis_stats(s, warnings))
    stats.record("api", items=1)
    assert warnings == []

    private_redis.stop()
    wire = Wire(monkeypatch, private_redis.port)
    assert cache.get("before") == {"v": 1}  # this machine's copy: Redis is not even asked
    assert warnings == []
    cache.set("during", {"v": 2})  # the write finds Redis gone: one warning, kept on this machine
    assert cache.get("during") == {"v": 2}
    assert cache.get("never") is None  # a local miss: Redis is held down, no second attempt
    with pytest.raises(BudgetError) as refused:
        ledger.reserve(10)
    with pytest.raises(BudgetError):
        ledger.status()
    stats.record("cache", items=1)
    assert [e["source"] for e in stats.read()] == ["api", "cache"]  # this machine's file
    assert wire.connects == 1  # refused once, then held down: no retry, nothing waited for
    assert str(refused.value).startswith(
        f"budget: the shared ledger at {private_redis.url()} is unreachable (Error 111 connecting to 127.0.0.1:"
    )
    assert str(refused.value).endswith("; no paid call was made")
    assert len([w for w in warnings if w.startswith("cache:")]) == 1
    assert warnings[0].startswith(f"cache: the shared cache at {private_redis.url()} is unreachable (")
    assert warnings[0].endswith(f"using the local disk cache at {tmp_path / 'cache' / 'responses'}")

    private_redis.start()  # back on the same port: tried again after RETRY_AFTER
    redis_conn._servers[(private_redis.url(), 2.0)]._down_until = 0.0
    assert list(cache.entries()) == []  # a fresh server: an empty team cache, asked again
    assert cache.get("before") == {"v": 1}  # this machine's copy lives out its own TTL
    cache.set("after", {"v": 3})
    assert client(private_redis.url()).exists(PREFIX + "cache:after") == 1
    ledger.settle(ledger.reserve(10), 10)
    assert ledger.status()["month"]["spent"] == 10


def test_a_hung_server_costs_one_bounded_timeout(
    private_redis: RedisServer, tmp_path: Path, warnings: Warnings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frozen server accepts connections and never answers; it stays frozen until the test resumes it, so
    a read without a timeout would wait forever (the hang guard). What is counted is what reached the wire:
    the local hit sends nothing, the local miss sends one command whose read timeout ends in a warning,
    and the ledger and the next write find the server held down and send nothing."""
    s = team(private_redis.url(), tmp_path, timeout=0.5, budget_monthly=1.0)
    cache = open_cache(s, warnings)
    ledger = open_ledger(s, warn=warnings)
    cache.set("k", {"v": 1})
    open_cache(team(private_redis.url(), tmp_path / "elsewhere"), warnings).set("theirs", {"v": 0})
    sent: dict[str, int] = {}

    def steps() -> None:
        wire = Wire(monkeypatch, private_redis.port)
        assert cache.get("k") == {"v": 1}  # this machine's copy: no wait at all
        sent["local hit"] = wire.sends + wire.connects
        assert cache.get("theirs") is None  # only in Redis: waited min(2 s, timeout) once, then a miss
        sent["local miss"] = wire.sends + wire.connects
        with pytest.raises(BudgetError, match=r"is unreachable \(Timeout reading from 127\.0\.0\.1:"):
            ledger.reserve(10)  # held down by this process: no second wait
        cache.set("k2", {"v": 2})
        sent["then"] = wire.sends + wire.connects

    private_redis.pause()
    try:
        within_hang_guard(steps)
    finally:
        private_redis.resume()
    assert sent == {"local hit": 0, "local miss": 1, "then": 1}
    assert len(warnings) == 1
    assert "is unreachable (Timeout reading from 127.0.0.1:" in warnings[0]
    assert cache.get("k2") == {"v": 2}  # kept on this machine


def test_the_password_is_never_shown(tmp_path: Path, warnings: Warnings, capsys: pytest.CaptureFixture[str]) -> None:
    server = RedisServer(tmp_path / "redis", "--requirepass", PASSWORD).start()
    try:
        good = team(server.url(password=PASSWORD), tmp_path / "good", budget_monthly=1.0)
        cache = open_cache(good, warnings)
        cache.set("k", {"v": 1})
        assert cache.get("k") == {"v": 1}
        assert PASSWORD not in json.dumps(cache.info())
        ledger = open_ledger(good, warn=warnings)
        ledger.settle(ledger.reserve(5), 5)
        assert PASSWORD not in json.dumps(ledger.status())
        assert warnings == []

        texts: list[str] = []
        for url in (
            server.url(password=PASSWORD[::-1]),  # wrong password
            f"redis://{PASSWORD}@127.0.0.1:{server.port}/0",  # a bare userinfo
            f"redis://user:{PASSWORD}@127.0.0.1:1/0",  # nothing listening
            f"redis://:{PASSWORD}@127.0.0.1:notaport/0",  # redis-py cannot parse it
        ):
            redis_conn._servers.clear()
            bad = team(url, tmp_path / f"bad{len(texts)}", budget_monthly=1.0)
            w = Warnings()
            bad_cache = open_cache(bad, w)
            assert bad_cache.get("k") is None
            bad_cache.set("k", {"v": 2})
            texts += [*w, json.dumps(bad_cache.info())]
            with pytest.raises(BudgetError) as info:
                open_ledger(bad, warn=w).reserve(1)
            texts.append(str(info.value))
            assert len(w) == 1
        texts.append(capsys.readouterr().out)
    finally:
        server.stop()
    joined = "\n".join(texts)
    assert "is unreachable" in joined
    assert "***" in joined
    assert PASSWORD not in joined
    assert PASSWORD[::-1] not in joined


def test_a_full_server_refuses_writes_serves_reads_and_closes_the_ledger(
    private_redis: RedisServer, tmp_path: Path, warnings: Warnings
) -> None:
    s = team(private_redis.url(), tmp_path, budget_monthly=1.0)
    cache = open_cache(s, warnings)
    ledger = open_ledger(s, warn=warnings)
    cache.set("k", {"v": 1})
    open_cache(team(private_redis.url(), tmp_path / "elsewhere"), warnings).set("theirs", {"v": 0})
    ledger.settle(ledger.reserve(5), 5)
    client(private_redis.url()).config_set("maxmemory", 1)  # noeviction: every write is refused now
    cache.set("k2", {"v": 2})
    cache.set("k3", {"v": 3})
    assert cache.get("k") == {"v": 1}
    assert cache.get("theirs") == {"v": 0}  # from Redis: reads still work
    assert client(private_redis.url()).exists(PREFIX + "cache:k2") == 0
    assert cache.get("k2") == {"v": 2}  # refused by Redis, kept on this machine's disk
    with pytest.raises(
        BudgetError,
        match=r"^budget: the shared ledger at \S+ failed \(command not allowed when used memory .*; no paid call was made$",
    ):
        ledger.reserve(5)
    assert ledger.status()["month"]["spent"] == 5
    assert warnings == [
        f"cache: the shared cache at {private_redis.url()} refused a command "
        "(command not allowed when used memory > 'maxmemory'.); continuing"
    ]


def test_a_damaged_ledger_fails_closed_and_leaves_the_cache_alone(
    redis_url: str, tmp_path: Path, warnings: Warnings
) -> None:
    s = team(redis_url, tmp_path, budget_monthly=1.0)
    cache, ledger = open_cache(s, warnings), open_ledger(s, warn=warnings)
    client(redis_url).hset(PREFIX + "ledger:reservations", "planted", "not json")
    with pytest.raises(BudgetError, match=r"^budget: the shared ledger at \S+ failed \(.*; no paid call was made$"):
        ledger.reserve(5)
    with pytest.raises(BudgetError, match="failed"):
        ledger.status()
    cache.set("k", {"v": 1})  # the server was not taken for unreachable
    assert cache.get("k") == {"v": 1}
    assert warnings == []


def test_a_value_that_is_not_json_is_stored_nowhere(redis_url: str, tmp_path: Path, warnings: Warnings) -> None:
    cache = open_cache(team(redis_url, tmp_path), warnings)
    cache.set("k", {"v": {1, 2}})
    cache.set("k", {"v": object()})
    assert cache.get("k") is None
    assert isinstance(cache, RedisCache)
    assert cache.local.get("k") is None
    assert len(warnings) == 1
    assert warnings[0].startswith("cache: not caching a value that is not a JSON object")


def test_a_missing_redis_package_is_one_warning_and_a_closed_ledger(
    redis_url: str, tmp_path: Path, warnings: Warnings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis -> ImportError
    s = team(redis_url, tmp_path, budget_monthly=1.0)
    cache = open_cache(s, warnings)
    cache.set("k", {"v": 1})
    assert cache.get("k") == {"v": 1}
    with pytest.raises(BudgetError, match=r"pip install 'symphony-assist\[redis\]'\); no paid call was made$"):
        open_ledger(s, warn=warnings).reserve(1)
    assert len(warnings) == 1
    assert "the redis package is not installed" in warnings[0]


def test_an_unusable_local_dir_leaves_redis_alone(redis_url: str, tmp_path: Path, warnings: Warnings) -> None:
    (tmp_path / "cache").write_text("a file in the way")
    cache = open_cache(team(redis_url, tmp_path), warnings)
    assert isinstance(cache, RedisCache)
    assert isinstance(cache.local, NullCache)
    cache.set("k", {"v": 1})
    assert cache.get("k") == {"v": 1}
    assert len(warnings) == 1
    assert "no local fallback this run" in warnings[0]


def test_the_ledger_warns_when_the_server_may_evict_it(tmp_path: Path, warnings: Warnings) -> None:
    server = RedisServer(tmp_path / "redis", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru").start()
    try:
        ledger = open_ledger(team(server.url(), tmp_path, budget_monthly=1.0), warn=warnings)
        ledger.settle(ledger.reserve(5), 5)
        ledger.settle(ledger.reserve(5), 5)
    finally:
        server.stop()
    assert len(warnings) == 1
    assert "maxmemory-policy allkeys-lru" in warnings[0]
    assert "volatile-lru" in warnings[0]


# ------------------------------------------------------------------------------------------ ledger
def test_reserve_settle_release_and_status_like_the_disk_ledger(
    redis_url: str, tmp_path: Path, warnings: Warnings
) -> None:
    s = team(redis_url, tmp_path, budget_monthly=0.0001, budget_run=None)
    results = []
    ledgers: list[Ledger] = [
        open_ledger(s, warn=warnings),
        DiskLedger(tmp_path / "disk", Caps.from_settings(s), warn=warnings),
    ]
    for ledger in ledgers:
        a = ledger.reserve(60)
        with pytest.raises(BudgetError) as info:
            ledger.reserve(50)
        results.append(str(info.value))
        ledger.release(a)
        ledger.release(a)
        b = ledger.reserve(50)
        ledger.settle(b, 40)
        with pytest.raises(ValueError, match="already settled"):
            ledger.settle(b, 40)
        status = ledger.status()
        status.pop("backend")
        status.pop("path")
        results.append(json.dumps(status, sort_keys=True))
    assert (
        results[0]
        == results[2]
        == (
            "budget: monthly cap of $0.0001 reached (spent $0.00, $0.00006 reserved by calls in flight, "
            "this call needs up to $0.00005)"
        )
    )
    assert results[1] == results[3]  # the same status, field for field
    assert warnings == []


def test_run_cap_is_per_object_and_day_cap_is_shared(redis_url: str, tmp_path: Path) -> None:
    clock = Clock(calendar.timegm((2026, 3, 10, 12, 0, 0)))
    s = team(redis_url, tmp_path, budget_run=0.00005, budget_daily=0.0001, budget_monthly=0.001)
    first = open_ledger(s, warn=print, now=clock)
    first.settle(first.reserve(30), 30)
    with pytest.raises(BudgetError, match=r"^budget: run cap of \$0\.00005 reached \(spent \$0\.00003,"):
        first.reserve(30)
    second = open_ledger(s, warn=print, now=clock)  # another laptop: its own run, the team's day
    second.settle(second.reserve(50), 50)
    with pytest.raises(BudgetError, match=r"^budget: daily cap of"):
        second.reserve(30)
    clock.t += DAY
    third = open_ledger(s, warn=print, now=clock)
    third.settle(third.reserve(30), 30)
    assert third.status()["month"]["spent"] == 110
    assert open_ledger(s, warn=print).reserve(0).amount == 0  # free calls are always granted


def test_a_reservation_settles_into_the_month_it_was_made_in(redis_url: str, tmp_path: Path) -> None:
    clock = Clock(JAN_31_LAST_SECOND)
    ledger = open_ledger(team(redis_url, tmp_path, budget_monthly=1.0), warn=print, now=clock)
    res = ledger.reserve(100)
    assert (res.day, res.month) == ("2026-01-31", "2026-01")
    clock.t += 1
    ledger.settle(res, 70)
    status = ledger.status()
    assert status["months"] == {"2026-01": 70}
    assert status["month"] == {"period": "2026-02", "spent": 0, "reserved": 0, "cap": 1_000_000}


def test_the_clock_going_back_never_reopens_a_closed_month(redis_url: str, tmp_path: Path) -> None:
    s = team(redis_url, tmp_path, budget_monthly=0.0001)
    ahead = open_ledger(s, warn=print, now=Clock(calendar.timegm((2026, 2, 1, 1, 0, 0))))
    ahead.settle(ahead.reserve(100), 100)
    behind = open_ledger(s, warn=print, now=Clock(calendar.timegm((2026, 1, 5, 0, 0, 0))))
    with pytest.raises(BudgetError, match="monthly cap"):
        behind.reserve(10)
    assert behind.reserve(0).month == "2026-02"
    assert behind.status()["month"]["period"] == "2026-02"


def test_the_server_clock_decides_the_period(redis_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(team(redis_url, tmp_path, budget_monthly=1.0), warn=print)
    seconds, micros = client(redis_url).time()
    res = ledger.reserve(1)
    assert res.day == periods(seconds + micros / 1e6)[0]
    raw = client(redis_url).hget(PREFIX + "ledger:reservations", res.id)
    assert isinstance(raw, bytes)
    assert abs(json.loads(raw)["expires_at"] - (seconds + 600)) < 5


def test_utc_day_in_lua_matches_python(redis_url: str) -> None:
    probe = client(redis_url).register_script(
        redis_ledger_mod._UTC_DAY
        + "local out = {} for i, t in ipairs(ARGV) do out[i] = utc_day(tonumber(t)) end return out"
    )
    rng = random.Random(8)
    stamps = [0.0, 951_782_399.9, 951_782_400.0, 4_107_542_400.0, JAN_31_LAST_SECOND, JAN_31_LAST_SECOND + 0.2]
    stamps += [rng.uniform(0, 4.2e9) for _ in range(3000)]
    got = [d.decode() for d in probe(args=[repr(t) for t in stamps])]
    assert got == [periods(t)[0] for t in stamps]


def test_a_reservation_expires(redis_url: str, tmp_path: Path, warnings: Warnings) -> None:
    clock = Clock(calendar.timegm((2026, 5, 5, 10, 0, 0)))
    s = team(redis_url, tmp_path, budget_monthly=0.0001)
    stuck = open_ledger(s, warn=print, now=clock)
    res = stuck.reserve(100)
    other = open_ledger(s, warn=warnings, now=clock)
    with pytest.raises(BudgetError):
        other.reserve(10)
    clock.t += 3600
    with pytest.raises(BudgetError, match=r"spent \$0\.00, this call"):
        other.reserve(200)  # refused by the cap alone: the sweep is kept all the same
    other.settle(other.reserve(50), 50)
    assert warnings == [
        "budget: released $0.0001 held by 1 unfinished call(s) (their process is gone or the reservation expired)"
    ]
    stuck.settle(res, 30)  # a late answer is still counted
    assert other.status()["month"]["spent"] == 80


HOLDER = """
import sys, time
from pathlib import Path
from symphony_assist_hooks.assistant.ledger import open_ledger
from symphony_assist_hooks.config import Settings

s = Settings(cache_backend="redis", cache_url=sys.argv[1], cache_dir=Path(sys.argv[2]), budget_monthly=0.0001, budget_run=None)
open_ledger(s, warn=print).reserve(100)
print("reserved", flush=True)
time.sleep(60)
"""


def test_a_killed_process_does_not_hold_the_budget(redis_url: str, tmp_path: Path, warnings: Warnings) -> None:
    s = team(redis_url, tmp_path, budget_monthly=0.0001)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, redis_url, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "reserved"
        ledger = open_ledger(s, warn=warnings)
        with pytest.raises(BudgetError, match=r"\$0\.0001 reserved by calls in flight"):
            ledger.reserve(10)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        ledger.settle(ledger.reserve(100), 100)
    finally:
        proc.kill()
        proc.wait()
    assert len(warnings) == 1
    assert "released $0.0001" in warnings[0]


def test_another_host_reservation_is_not_swept_by_pid(redis_url: str, tmp_path: Path) -> None:
    s = team(redis_url, tmp_path, budget_monthly=0.0001)
    ledger = open_ledger(s, warn=print)
    assert isinstance(ledger, RedisLedger)
    r = client(redis_url)
    entry = {"amount": 100, "day": "2099-01-01", "month": "2099-01", "expires_at": 4e9, "pid": 999_999_999}
    r.hset(PREFIX + "ledger:reservations", "other", json.dumps({**entry, "host": "another-box/boot/pid:[1]"}))
    r.hset(PREFIX + "ledger:reservations", "mine", json.dumps({**entry, "host": redis_ledger_mod._host_id()}))
    ledger.reserve(0)
    assert set(r.hkeys(PREFIX + "ledger:reservations")) == {b"other", next(iter(ledger._open)).encode()}


def _race(url: str, cache_dir: Path, cap: float, seed: int, start: Any, results: Any) -> None:
    """One of the racing processes (forked: the interpreter and its imports are already warm)."""
    caps: dict[str, Any] = {"budget_monthly": cap, "budget_daily": cap, "budget_run": None}
    s = Settings(cache_backend="redis", cache_url=url, cache_dir=cache_dir, **caps)
    warned: list[str] = []
    ledger = open_ledger(s, warn=warned.append)
    ledger.settle(ledger.reserve(0), 0)  # connected and scripts loaded before the start
    rng = random.Random(seed)
    start.wait()
    spent = refused = 0
    errors = []
    for _ in range(40):
        try:
            res = ledger.reserve(7)
        except BudgetError as exc:
            if "cap of" not in str(exc):
                errors.append(str(exc))
            refused += 1
            continue
        time.sleep(rng.random() * 0.002)  # the paid call
        actual = rng.randint(3, 7)  # never above the worst case reserved
        ledger.settle(res, actual)
        spent += actual
    results.put({"spent": spent, "refused": refused, "errors": errors + warned})


def test_sixteen_processes_never_overspend_and_the_ledger_is_exact(redis_url: str, tmp_path: Path) -> None:
    cap_micro = 1000  # 16 workers x 40 calls x 7 would be 4480
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(16), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(redis_url, tmp_path / f"m{seed}", cap_micro / 1e6, seed, start, results))
        for seed in range(16)
    ]
    for proc in procs:
        proc.start()
    try:
        outcomes = [results.get(timeout=60) for _ in procs]
    finally:
        for proc in procs:
            proc.join(HANG_GUARD)  # each has sent its outcome: waiting for it to exit, however busy the machine
            proc.kill()
    assert [proc.exitcode for proc in procs] == [0] * 16
    assert [e for o in outcomes for e in o["errors"]] == []
    total = sum(o["spent"] for o in outcomes)
    assert total <= cap_micro
    assert total >= cap_micro - 7 * 16 * 2  # refusals came from the cap, not from faults
    assert sum(o["refused"] for o in outcomes) > 0
    status = open_ledger(team(redis_url, tmp_path), warn=print).status()
    assert status["month"]["spent"] == status["day"]["spent"] == total
    assert status["month"]["reserved"] == 0


# ------------------------------------------------------------------------------------------- stats
def test_stats_go_to_the_team_stream(redis_url: str, tmp_path: Path, warnings: Warnings) -> None:
    s = team(redis_url, tmp_path)
    laptop = StatsLog(tmp_path / "a.jsonl", "run-a", sink=redis_stats(s, warnings))
    runner = StatsLog(tmp_path / "b.jsonl", "run-b", sink=redis_stats(s, warnings))
    for i in range(5):
        laptop.record("cache", items=1, i=i)
    assert client(redis_url).xlen(PREFIX + "stats") == 0  # batched
    runner.record("api", items=2)
    events = list(runner.read())  # flushes its own batch; sees the laptop's once sent
    assert [e["run"] for e in events] == ["run-b"]
    assert laptop.sink is not None
    laptop.sink.read()  # flush
    assert sorted(e["run"] for e in runner.read()) == ["run-a"] * 5 + ["run-b"]
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 5  # kept locally too
    assert warnings == []


def test_the_stream_is_capped_and_batches_are_one_round_trip(redis_url: str, tmp_path: Path) -> None:
    sink = RedisStats(redis_url, warn=print, maxlen=100)
    for i in range(3000):
        sink.send({"i": i})
    sink.flush()
    r = client(redis_url)
    assert 100 <= int(r.xlen(PREFIX + "stats")) < 500  # MAXLEN ~ trims whole nodes
    events = list(sink.read() or [])
    assert events[-1] == {"i": 2999}
    assert [e["i"] for e in events] == sorted(e["i"] for e in events)


EXITING = """
import sys
from symphony_assist_hooks.assistant.stats.redis import RedisStats
sink = RedisStats(sys.argv[1], warn=print)
for i in range(3):
    sink.send({"i": i})
"""


def test_pending_events_are_sent_at_exit(redis_url: str) -> None:
    subprocess.run([sys.executable, "-c", EXITING, redis_url], check=True, timeout=60)
    assert client(redis_url).xlen(PREFIX + "stats") == 3


def test_stats_command_shows_the_team(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from symphony_assist_hooks.cli import main

    other = StatsLog(None, "elsewhere", sink=redis_stats(team(redis_url, tmp_path), print))
    other.record("cache", items=3, template="security", saved_micro=30)
    other.record("api", items=1, template="security")
    assert other.sink is not None
    other.sink.read()
    monkeypatch.setenv("LLM_CACHE_BACKEND", "redis")
    monkeypatch.setenv("LLM_CACHE_URL", redis_url)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "here"))
    assert main(["stats", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total"]["items"] == 4
    assert doc["total"]["cache"] == 3
    assert doc["budget"]["backend"] == "redis"


def test_stats_fall_back_to_this_machine(tmp_path: Path, warnings: Warnings) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:1/0"
    log = StatsLog(tmp_path / "s.jsonl", "r", sink=redis_stats(team(url, tmp_path), warnings))
    log.record("local", items=1, reason="offline")
    assert [e["source"] for e in log.read()] == ["local"]
    assert len(warnings) == 1
    assert warnings[0].startswith("stats: the team's events at redis://:***@127.0.0.1:1/0 are unreachable")
    assert PASSWORD not in warnings[0]


# ------------------------------------------------------------------------------------- hot paths
DISK_RUN = """
import json, sys
from pathlib import Path
from symphony_assist_hooks.assistant import Assistant
from symphony_assist_hooks.assistant.cache import export_cache
from symphony_assist_hooks.config import Settings

s = Settings(cache_dir=Path(sys.argv[1]), budget_monthly=1.0)
assistant = Assistant(s)
assistant.cache.set("k", {"v": 1})
assert assistant.cache.get("k") == {"v": 1}
assistant.ledger.settle(assistant.ledger.reserve(5), 5)
assistant.ledger.status()
assistant.stats.record("cache", items=1)
list(assistant.stats.read())
export_cache(assistant.cache, Path(sys.argv[1]) / "dump.jsonl")
assistant.close()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "redis" or m.split(".")[-1] == "redis")))
"""


def test_the_disk_backend_never_imports_redis(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DISK_RUN, str(tmp_path / "cache")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


QUERY_PROBE = """
import json, sys
from symphony_assist_hooks.cli import main
rc = main(["query", "What is a mutex?", "--json"])
print(json.dumps({"rc": rc, "redis": "redis" in sys.modules}), file=sys.stderr)
"""


def test_a_local_hit_in_team_mode_spools_its_stats_instead_of_importing_redis(
    query_env: Any, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from symphony_assist_hooks.cli import main

    monkeypatch.setenv("LLM_CACHE_URL", redis_url)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "laptop"))

    def fresh() -> dict[str, Any]:
        proc = subprocess.run([sys.executable, "-c", QUERY_PROBE], capture_output=True, text=True, timeout=120)
        return json.loads(proc.stderr.strip().splitlines()[-1])  # type: ignore[no-any-return]

    assert fresh() == {"rc": 0, "redis": True}  # a miss: asked, cached on Redis and on this disk
    stream = client(redis_url)
    assert stream.xlen(PREFIX + "stats") == 2  # sent when the run ended
    assert fresh() == {"rc": 0, "redis": False}  # this machine's copy: redis never imported
    spool = tmp_path / "laptop" / "stats-spool.jsonl"
    assert [json.loads(line)["source"] for line in spool.read_text().splitlines()] == ["cache"]
    assert stream.xlen(PREFIX + "stats") == 2
    assert main(["stats", "--json"]) == 0  # talks to Redis: sends the spool first
    doc = json.loads(capsys.readouterr().out)
    assert (doc["total"]["api"], doc["total"]["cache"]) == (1, 1)
    assert stream.xlen(PREFIX + "stats") == 3
    assert not spool.exists() and not list(spool.parent.glob("stats-spool.jsonl.*"))


def test_a_spool_waits_while_redis_is_unreachable(tmp_path: Path, warnings: Warnings) -> None:
    spool = tmp_path / "stats-spool.jsonl"
    spool.write_text(json.dumps({"run": "r", "source": "cache", "items": 2}) + "\n")
    sink = redis_stats_mod.SpooledStats(team(f"redis://:{PASSWORD}@127.0.0.1:1/0", tmp_path), warnings, spool)
    log = StatsLog(tmp_path / "s.jsonl", "r", sink=sink)
    assert [e["source"] for e in log.read()] == []  # the team's stream unreachable: this machine's file
    assert len(warnings) == 1 and "unreachable" in warnings[0]
    assert [json.loads(line)["items"] for line in spool.read_text().splitlines()] == [2]  # kept for later
    assert spool.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("stats-spool.jsonl.*"))


# ------------------------------------------------------------------------------------- end to end
@pytest.fixture
def query_env(fake_openai: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from responders import answering

    monkeypatch.setenv("OPENAI_API_KEY_PRIMARY", "sk-test-" + os.urandom(16).hex())
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "5")
    monkeypatch.setenv("LLM_CACHE_BACKEND", "redis")
    monkeypatch.chdir(tmp_path)
    fake_openai.responder = answering(answer=lambda q: f"answer to: {q}")
    return fake_openai


def test_a_team_shares_answers_stats_and_budget_through_the_cli(
    query_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from symphony_assist_hooks.cli import main
    from symphony_assist_hooks.errors import EXIT_BUDGET

    monkeypatch.setattr(redis_stats_mod, "STATS_DELAY", 0.05)

    server = RedisServer(tmp_path / "auth", "--requirepass", PASSWORD).start()
    try:
        monkeypatch.setenv("LLM_CACHE_URL", server.url(password=PASSWORD))

        def machine(name: str, *argv: str) -> tuple[int, Any, str]:
            monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / name))
            code = main(list(argv))
            out, err = capsys.readouterr()
            assert PASSWORD not in out + err
            return code, json.loads(out) if out.strip() else None, err

        stream = client(server.url(password=PASSWORD))

        def sent(count: int) -> None:  # each run's events leave after STATS_DELAY, on a thread of their own
            deadline = time.monotonic() + HANG_GUARD  # a hang detector: a busy machine may be slow to send them
            while stream.xlen(PREFIX + "stats") < count:
                assert time.monotonic() < deadline, f"{count} events never reached the stream"
                time.sleep(0.01)

        code, first, _ = machine("laptop", "query", "What is a mutex?", "--json")
        assert (code, first["cached"]) == (0, False)
        sent(2)  # the request and its answer
        code, second, _ = machine("ci-runner", "query", "What is a mutex?", "--json")
        assert (code, second["cached"], second["content"]) == (0, True, "answer to: What is a mutex?")
        assert len(query_env.chat_requests) == 1
        sent(3)
        code, stats, _ = machine("ci-runner", "stats", "--json")
        assert (stats["total"]["api"], stats["total"]["cache"]) == (1, 1)  # the laptop's call and the runner's hit
        assert stats["budget"]["month"]["spent"] > 0

        server.stop()  # Redis goes away: cached answers still come from each machine's disk
        code, again, err = machine("laptop", "query", "What is a mutex?", "--json")
        assert (code, again["cached"]) == (0, True)
        assert "is unreachable" not in err  # this machine's copy: the cache never asked Redis
        code, _, err = machine("laptop", "query", "A new question", "--json")
        assert err.count("cache: the shared cache at redis://:***@127.0.0.1:") == 1
        assert code == EXIT_BUDGET
        assert "budget: the shared ledger at redis://:***@127.0.0.1:" in err
        assert "no paid call was made" in err
        assert len(query_env.chat_requests) == 1
    finally:
        server.stop()


@pytest.mark.parametrize("in_ci", [True, False])
def test_a_missing_redis_server_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch, in_ci: bool) -> None:
    import redis_server

    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr(redis_server, "IN_CI", in_ci)
    expected = pytest.fail.Exception if in_ci else pytest.skip.Exception
    with pytest.raises(expected, match=r"redis-server is not installed: .*apt-get install redis-server"):
        RedisServer(Path("unused")).start()
