"""Throughput on a miss: 100 hunks against the fake server with a fixed latency per call.

The pipeline packs uncached hunks into as few requests as `max_request_tokens` allows and sends them
`concurrency` at a time. To measure the scheduling rather than the packing, `max_request_tokens` is set
so that about five hunks fit in a request (about 20 requests for 100 hunks), and the fake server waits
`latency` seconds before each answer. The honest ideal for the requests the pipeline actually made is

    ideal = ceil(requests / concurrency) × latency

(waves of `concurrency` requests, each wave costing one latency), and the figure is wall / ideal.

It runs in this process through `Assistant.ask` with a fresh Assistant, cache and provider per repeat,
so the client construction and every local step of a miss are inside the timing. The one-time imports
of a miss (openai, pydantic, jinja2, the price table: ~0.6 s, docs/reference.md#hit-path) are paid once by a
warm-up request before timing: they are start-up, not throughput, and the hook benchmark covers them.
HOME/XDG point at a temporary directory meanwhile, so the key state file never touches the real home.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import BENCH_KEY, Row, fake_server

HUNKS = 100
PER_REQUEST = 5
TARGET = 1.3


def hunk_text(i: int) -> str:
    """A 20-line hunk in the pipeline's hunk-local form (unique per i)."""
    lines = [f" 1  def handler_{i}(request, session):", f" 2      user = session.get('user_{i}')"]
    for n in range(3, 21):
        sign = "+" if n % 3 == 0 else " "
        lines.append(f"{n:>2} {sign}    value_{n} = compute_{i}_{n}(request.args.get('k{n}'), user, limit={n * i})")
    return "\n".join(lines)


@contextlib.contextmanager
def private_home(path: Path) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    os.environ.update(
        HOME=str(path),
        XDG_CACHE_HOME=str(path / ".cache"),
        XDG_CONFIG_HOME=str(path / ".config"),
        XDG_DATA_HOME=str(path / ".local/share"),
    )
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(quick: bool, latency: float | None = None, repeats: int | None = None, hunks: int = HUNKS) -> list[Row]:
    from symphony_assist_hooks.assistant import Assistant
    from symphony_assist_hooks.assistant.pricing import estimate_tokens
    from symphony_assist_hooks.assistant.request import Item, Request
    from symphony_assist_hooks.config import Settings
    from symphony_assist_hooks.config.keys import Secret

    latency = latency if latency is not None else (0.5 if quick else 1.0)
    repeats = repeats or (1 if quick else 3)
    items = tuple(Item(f"h{i + 1}", hunk_text(i), f"pkg/handlers_{i % 10}.py (python)") for i in range(hunks))
    per_item = max(estimate_tokens(it.content) + estimate_tokens(it.label) + 12 for it in items)
    limit = max(500, per_item * PER_REQUEST)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sa-bench-tp-") as tmp, fake_server() as fake, private_home(Path(tmp)):
        base = Settings(
            api_key_primary=Secret(BENCH_KEY),
            base_url=fake.url,
            max_request_tokens=limit,
            budget_run=None,
            budget_monthly=None,
            timeout=30.0,
            deadline=600.0,
        )
        concurrency = base.concurrency
        warm = Assistant(dataclasses.replace(base, cache_dir=Path(tmp) / "warm"))
        warm.ask(Request("findings", ("code_review", "security"), (Item("w", "1 +x = 1", "w.py"),)))
        warm.close()
        fake.delay(latency, times=None)
        for r in range(repeats):
            before = len(fake.chat_requests)
            assistant = Assistant(dataclasses.replace(base, cache_dir=Path(tmp) / f"run{r}"))
            request = Request("findings", ("code_review", "security"), items)
            started = time.perf_counter()
            resp = assistant.ask(request)
            wall = time.perf_counter() - started
            assistant.close()
            sent = len(fake.chat_requests) - before
            answered = sum(1 for v in resp.results.values() if v.source == "api")
            if resp.fallback_reason or answered != 2 * hunks:
                raise RuntimeError(f"{answered} of {2 * hunks} answered by the service ({resp.fallback_reason})")
            ideal = math.ceil(sent / concurrency) * latency
            results.append({"wall_s": round(wall, 3), "requests": sent, "ideal_s": ideal, "ratio": wall / ideal})
    ratio = statistics.median(r["ratio"] for r in results)
    mid = sorted(results, key=lambda r: r["ratio"])[len(results) // 2]
    return [
        Row(
            f"throughput: {hunks} hunks on a miss, {latency:g} s latency per call",
            f"{mid['wall_s']:.2f} s wall, {mid['requests']} requests",
            f"ideal ⌈{mid['requests']}/{concurrency}⌉ × {latency:g} s = {mid['ideal_s']:.2f} s",
            f"{ratio:.2f}×",
            f"≤ {TARGET}×",
            ratio <= TARGET,
            {
                "repeats": results,
                "concurrency": concurrency,
                "max_request_tokens": limit,
                "hunks_per_request_target": PER_REQUEST,
                "latency_s": latency,
            },
        )
    ]
