"""Team mode (#8): what the shared Redis backend costs against the local disk. Not a test.

    python -m bench.redis_bench [--quick] [--url redis://127.0.0.1:6379/15]

Starts a private redis-server on 127.0.0.1 (no persistence) unless `--url` names one (its db is
flushed), and prints a markdown table; every ratio is redis / disk measured in the same run:

* cache hit, in process: the median and p99 of one `get` of the same answer through `RedisCache` and
  through `DiskCache` (warm: connection open, SQLite page cached).
* cache hit, whole process: `python -c` that loads the settings, opens the cache and reads one hit,
  A/B alternating pairs (bench/common.py). The redis side includes ``import redis`` and one connection.
* reserve + settle: 8 forked processes, each running reserve -> settle cycles against one ledger
  (caps never reached); calls per second from the first start to the last finish.

Loopback is the best case: on a LAN or across a VPN every Redis command adds a round trip (0.2-30 ms).
`run(quick)` returns the rows for bench/run.py.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/redis_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from .common import Row, ab, fmt_ratio, isolated_env, ms

ANSWER = {"findings": [{"line": 3, "severity": "medium", "message": "x" * 60}] * 6, "summary": "y" * 400}
HIT = """
import sys
from symphony_assist_hooks.assistant.cache import open_cache
from symphony_assist_hooks.config import load_settings
cache = open_cache(load_settings(), lambda message: sys.exit("warning: " + message))
sys.exit(0 if cache.get(sys.argv[1]) is not None else 3)
"""


@contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """`url` (flushed), or a private redis-server for the duration."""
    import redis

    if url:
        redis.Redis.from_url(url).flushdb()
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server), or pass --url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="sa-redis-bench-")
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir]
    proc = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(500):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.01)
        yield url
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _per_call(fn: Any, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)


def cache_in_process(url: str, work: Path, n: int) -> Row:
    from symphony_assist_hooks.assistant.cache.disk import DiskCache
    from symphony_assist_hooks.assistant.cache.redis import RedisCache

    disk = DiskCache(work / "inproc", size_limit=1 << 30, ttl=0, warn=print)
    shared = RedisCache(
        url, local=DiskCache(work / "inproc-local", size_limit=1 << 30, ttl=0, warn=print), ttl=0, warn=print
    )
    disk.set("k", ANSWER)
    shared.set("k", ANSWER)
    assert disk.get("k") == shared.get("k") == ANSWER
    d = _per_call(lambda: disk.get("k"), n)
    r = _per_call(lambda: shared.get("k"), n)
    p99 = int(n * 0.99)
    med_d, med_r = statistics.median(d), statistics.median(r)
    return Row(
        "redis: cache hit, in process",
        f"{med_r * 1e6:.0f} µs (p99 {r[p99] * 1e6:.0f} µs)",
        f"disk {med_d * 1e6:.0f} µs (p99 {d[p99] * 1e6:.0f} µs)",
        fmt_ratio(med_r / med_d),
        details={"n": n, "redis_median_s": med_r, "disk_median_s": med_d},
    )


def cache_whole_process(url: str, work: Path, pairs: int) -> Row:
    from symphony_assist_hooks.assistant.cache import open_cache
    from symphony_assist_hooks.config import Settings

    disk_dir, redis_dir = work / "disk-proc", work / "redis-proc"
    open_cache(Settings(cache_dir=disk_dir), print).set("k", ANSWER)
    open_cache(Settings(cache_dir=redis_dir, cache_backend="redis", cache_url=url), print).set("k", ANSWER)
    env_disk = isolated_env(work / "home", SYMPHONY_ASSIST_CACHE_DIR=str(disk_dir))
    env_redis = isolated_env(
        work / "home", SYMPHONY_ASSIST_CACHE_DIR=str(redis_dir), LLM_CACHE_BACKEND="redis", LLM_CACHE_URL=url
    )
    cmd = [sys.executable, "-c", HIT, "k"]
    result = ab(cmd, cmd, pairs, env=env_redis, env_b=env_disk)
    return Row(
        "redis: cache hit, whole process",
        ms(result.median_a),
        f"disk {ms(result.median_b)}",
        fmt_ratio(result.ratio),
        details={"pairs": pairs, "diff_s": result.diff, **result.summary()},
    )


class _NoWait:
    def wait(self, timeout: float | None = None) -> None:
        return None


class _Drop:
    def put(self, item: Any) -> None:
        return None


def _cycles(kind: str, url: str, directory: str, n: int, start: Any, out: Any) -> None:
    from symphony_assist_hooks.assistant.ledger.disk import DiskLedger
    from symphony_assist_hooks.assistant.ledger.redis import RedisLedger
    from symphony_assist_hooks.assistant.ledger.rules import Caps

    caps = Caps(run=None, day=10**15, month=10**15)
    ledger: Any = (
        RedisLedger(url, caps, warn=print, lifetime=600)
        if kind == "redis"
        else DiskLedger(Path(directory), caps, warn=print)
    )
    ledger.settle(ledger.reserve(0), 0)  # connected before the start
    start.wait(60)
    began = time.perf_counter()
    try:
        for _ in range(n):
            ledger.settle(ledger.reserve(700), 500)
    except Exception as exc:
        out.put(f"{kind} ledger: {type(exc).__name__}: {exc}")
        return
    out.put((began, time.perf_counter()))


def ledger_throughput(kind: str, url: str, work: Path, n: int, procs: int = 8) -> float:
    if kind == "disk":  # created once: 8 first opens at the same instant can fail one with SQLITE_BUSY
        _cycles(kind, url, str(work / f"ledger-{kind}"), 0, _NoWait(), _Drop())
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=_cycles, args=(kind, url, str(work / f"ledger-{kind}"), n, start, out)) for _ in range(procs)
    ]
    for w in workers:
        w.start()
    spans = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join()
    failed = [span for span in spans if isinstance(span, str)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {procs} processes failed; first: {failed[0]}")
    return procs * n / (max(e for _, e in spans) - min(b for b, _ in spans))


def ledger_row(url: str, work: Path, n: int) -> Row:
    redis_rate = ledger_throughput("redis", url, work, n)
    disk_rate = ledger_throughput("disk", url, work, n)
    return Row(
        "redis: reserve+settle, 8 processes",
        f"{redis_rate:,.0f} calls/s",
        f"disk {disk_rate:,.0f} calls/s",
        fmt_ratio(redis_rate / disk_rate),
        details={"per_process": n, "redis_per_s": redis_rate, "disk_per_s": disk_rate},
    )


def run(quick: bool, url: str | None = None) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="sa-redis-bench-") as tmp, redis_server(url) as server:
        work = Path(tmp)
        return [
            cache_in_process(server, work, 2000 if quick else 20000),
            cache_whole_process(server, work, 5 if quick else 15),
            ledger_row(server, work, 100 if quick else 400),
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (CI)")
    parser.add_argument("--url", help="an existing Redis to use (its db is flushed)")
    args = parser.parse_args(argv)
    rows = run(args.quick, args.url)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpu, redis-server on loopback\n")
    print("| benchmark | redis | disk | ratio (redis / disk) |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row.benchmark} | {row.figure} | {row.baseline.removeprefix('disk ')} | {row.ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
