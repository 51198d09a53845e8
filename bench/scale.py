"""Cache hit latency as the cache grows: 1k entries vs 100k (10k in quick mode), and disk per entry.

Uses the package's `DiskCache` directly, as the pipeline does (`set` through diskcache, `get` through
the read-only SQLite connection). Values are realistic cached answers: {"data": {"findings": [...]},
"model", "cost_micro"}, two thirds without findings and the rest with one to three findings of varied
text (random words, so zlib gets no unrealistic help). Keys are sha256 hex strings.

Timing: the two caches are read alternately in rounds; a round is `GETS` gets of random existing keys,
timed one by one with perf_counter_ns. The ratio is the median over rounds of
(median get at the large size / median get at 1k). A fresh-process check (open + one get, whole
process, A/B large vs small) is reported too, since a hook opens the cache once per run.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import Row, ab

SMALL = 1_000
TARGET_RATIO = 2.0

_TEXT = """
value index buffer cache request token budget retry parser handler session commit branch config timeout secret
escape render template schema module import lazy closure thread queue worker socket unbounded overflow injection
validate sanitize reference mutable default exception swallowed path
"""
_WORDS = tuple(_TEXT.split())


def _answer(rng: random.Random) -> dict[str, Any]:
    findings = []
    for _ in range(rng.choice((0, 0, 0, 0, 1, 1, 2, 3))):
        findings.append(
            {
                "checklist": rng.choice(("code_review", "security")),
                "line": rng.randint(1, 40),
                "end_line": rng.randint(1, 40),
                "severity": rng.choice(("low", "medium", "high")),
                "rule": rng.choice(("logic-error", "error-handling", "injection", "resource-leak")),
                "title": " ".join(rng.choices(_WORDS, k=rng.randint(4, 9))),
                "message": " ".join(rng.choices(_WORDS, k=rng.randint(15, 45))),
                "suggestion": " ".join(rng.choices(_WORDS, k=rng.randint(6, 20))),
            }
        )
    return {"data": {"findings": findings}, "model": "gpt-4o-mini-2024-07-18", "cost_micro": rng.randint(5, 90)}


def _key(i: int, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{i}".encode()).hexdigest()


def _open(path: Path) -> Any:
    from symphony_assist_hooks.assistant.cache.disk import DiskCache

    return DiskCache(path, size_limit=512 << 20, ttl=86_400, warn=lambda m: print("cache:", m, file=sys.stderr))


def fill(path: Path, entries: int, salt: str) -> dict[str, float]:
    """Store `entries` answers through DiskCache.set; returns timing and footprint."""
    rng = random.Random(entries)
    cache = _open(path)
    started = time.perf_counter()
    for i in range(entries):
        cache.set(_key(i, salt), _answer(rng))
    seconds = time.perf_counter() - started
    count = cache.info()["entries"]
    cache.close()
    if count != entries:
        raise RuntimeError(f"{path}: {count} entries after storing {entries} (evicted or skipped writes)")
    files = [p for p in path.rglob("*") if p.is_file()]
    apparent = sum(p.stat().st_size for p in files)
    allocated = sum(p.stat().st_blocks * 512 for p in files)
    return {"fill_s": seconds, "bytes": apparent, "allocated": allocated, "sets_per_s": entries / seconds}


def _round(cache: Any, keys: list[str]) -> list[int]:
    out = []
    for key in keys:
        t = time.perf_counter_ns()
        hit = cache.get(key)
        out.append(time.perf_counter_ns() - t)
        if hit is None:
            raise RuntimeError("a stored key missed")
    return out


_PROBE = """
import sys
from pathlib import Path
from symphony_assist_hooks.assistant.cache import DiskCache
c = DiskCache(Path(sys.argv[1]), size_limit=512 << 20, ttl=86400, warn=print)
assert c.get(sys.argv[2]) is not None
"""


def run(quick: bool, large: int | None = None, rounds: int | None = None, gets: int = 500) -> list[Row]:
    large = large or (10_000 if quick else 100_000)
    rounds = rounds or (8 if quick else 20)
    with tempfile.TemporaryDirectory(prefix="sa-bench-scale-") as tmp:
        base = Path(tmp)
        small_info = fill(base / "small", SMALL, "s")
        large_info = fill(base / "large", large, "l")
        caches = {"small": _open(base / "small"), "large": _open(base / "large")}
        rng = random.Random(7)
        for name, n, salt in (("small", SMALL, "s"), ("large", large, "l")):  # warm: open the connection
            _round(caches[name], [_key(rng.randrange(n), salt) for _ in range(50)])
        per_round: dict[str, list[float]] = {"small": [], "large": []}
        every: dict[str, list[int]] = {"small": [], "large": []}
        for r in range(rounds):
            order = (("small", SMALL, "s"), ("large", large, "l"))
            for name, n, salt in order if r % 2 == 0 else tuple(reversed(order)):
                lat = _round(caches[name], [_key(rng.randrange(n), salt) for _ in range(gets)])
                per_round[name].append(statistics.median(lat))
                every[name].extend(lat)
        for c in caches.values():
            c.close()
        ratio = statistics.median(b / a for a, b in zip(per_round["small"], per_round["large"], strict=True))
        p = {
            name: {
                "p50_us": round(statistics.median(v) / 1000, 2),
                "p99_us": round(sorted(v)[int(len(v) * 0.99)] / 1000, 2),
            }
            for name, v in every.items()
        }
        probe = ab(
            [sys.executable, "-c", _PROBE, str(base / "large"), _key(3, "l")],
            [sys.executable, "-c", _PROBE, str(base / "small"), _key(3, "s")],
            5 if quick else 10,
        )
    per_entry = large_info["bytes"] / large
    label = f"{large // 1000}k" if large % 1000 == 0 else f"{large:,}"
    return [
        Row(
            f"cache hit latency at {label} entries vs 1k (DiskCache.get, p50)",
            f"{p['large']['p50_us']:.1f} µs (p99 {p['large']['p99_us']:.0f} µs)",
            f"1k entries {p['small']['p50_us']:.1f} µs (p99 {p['small']['p99_us']:.0f} µs)",
            f"{ratio:.2f}×",
            f"≤ {TARGET_RATIO:.0f}×",
            ratio <= TARGET_RATIO,
            {"entries": large, "rounds": rounds, "gets_per_round": gets, "percentiles": p, "fill": large_info},
        ),
        Row(
            f"cache open + one hit in a fresh process, {label} vs 1k entries",
            f"{probe.median_a * 1000:.1f} ms",
            f"1k entries {probe.median_b * 1000:.1f} ms",
            f"{probe.ratio:.2f}×",
            f"≤ {TARGET_RATIO:.0f}×",
            probe.ratio <= TARGET_RATIO,
            probe.summary(),
        ),
        Row(
            "cache disk per entry",
            f"{per_entry / 1024:.2f} KiB/entry ({large_info['bytes'] / 2**20:.1f} MiB for {large:,})",
            f"1k entries: {small_info['bytes'] / SMALL / 1024:.2f} KiB/entry",
            "",
            "≤ 1.5 KiB/entry (docs/reference.md#performance-goals)",
            per_entry <= 1.5 * 1024,
            {"large": large_info, "small": small_info, "sets_per_s": round(large_info["sets_per_s"])},
        ),
    ]
