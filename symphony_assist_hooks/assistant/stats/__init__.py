"""Usage events and their aggregates.

Every answered (item, template) and every API request is one JSON line appended to
`<cache dir>/stats.jsonl` with O_APPEND (one small write per event, so lines from concurrent processes
never interleave). Events hold counts, money and names, never content and never a key (only its alias).

Event fields: ts, run, source (api | cache | local), template, model, items, prompt_tokens,
completion_tokens, cached_tokens, cost_micro, saved_micro (what a cache hit would have cost),
latency_ms, key (alias), reason (why it fell back, for local).

An optional `sink` also receives every event (the redis backend's team-wide stream); when it has one,
`read()` reads the sink's events, or this file's when the sink answers None (unreachable).
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["StatsLog", "StatsSink", "Summary", "append_event", "shares", "split_event", "summarize"]


class StatsSink(Protocol):
    """A second destination for events. `send` never raises; `read` returns None when unavailable."""

    def send(self, event: dict[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def read(self) -> Iterable[dict[str, Any]] | None: ...


def append_event(path: Path, event: dict[str, Any]) -> None:
    """One event as one JSON line, in one O_APPEND write (lines of concurrent processes never interleave);
    the file is created 0600. OSError when it cannot be written."""
    line = (json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class StatsLog:
    """Append-only event log. Failing to write stats never fails a run (the error is remembered)."""

    def __init__(self, path: Path | None, run_id: str = "", sink: StatsSink | None = None) -> None:
        self.path = path
        self.run_id = run_id
        self.sink = sink
        self.error: str | None = None
        self.events: list[dict[str, Any]] = []  # this run's events, for the run summary

    def record(self, source: str, **fields: Any) -> None:
        event: dict[str, Any] = {"ts": round(time.time(), 3), "run": self.run_id, "source": source, **fields}
        self.events.append(event)
        if self.sink is not None:
            self.sink.send(event)
        if self.path is None:
            return
        try:
            append_event(self.path, event)
        except OSError as exc:
            self.error = f"stats not recorded: {exc.strerror or exc}"

    def flush(self) -> None:
        """Events are written to the file as they are recorded; the sink may batch: it sends now."""
        if self.sink is not None:
            self.sink.flush()

    def read(self) -> Iterator[dict[str, Any]]:
        if self.sink is not None:
            shared = self.sink.read()
            if shared is not None:
                yield from shared
                return
        if self.path is None or not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for raw in fh:
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue  # a torn line after a crash or a full disk: skip it
                if isinstance(event, dict):
                    yield event


@dataclass
class Bucket:
    items: int = 0
    api_items: int = 0
    cache_items: int = 0
    local_items: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_micro: int = 0
    saved_micro: int = 0

    def add(self, e: dict[str, Any]) -> None:
        n = int(e.get("items", 1))
        src = e.get("source")
        if src in ("request", "request-share"):
            self.requests += 1 if src == "request" else 0
            self.prompt_tokens += int(e.get("prompt_tokens", 0))
            self.completion_tokens += int(e.get("completion_tokens", 0))
            self.cached_tokens += int(e.get("cached_tokens", 0))
            self.cost_micro += int(e.get("cost_micro", 0))
            return
        self.items += n
        if src == "api":
            self.api_items += n
        elif src == "cache":
            self.cache_items += n
            self.saved_micro += int(e.get("saved_micro", 0))
        elif src == "local":
            self.local_items += n

    @property
    def hit_rate(self) -> float:
        return self.cache_items / self.items if self.items else 0.0

    @property
    def fallback_rate(self) -> float:
        return self.local_items / self.items if self.items else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "api": self.api_items,
            "cache": self.cache_items,
            "local": self.local_items,
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "cost_usd": round(self.cost_micro / 1e6, 6),
            "saved_usd": round(self.saved_micro / 1e6, 6),
            "hit_rate": round(self.hit_rate, 4),
            "fallback_rate": round(self.fallback_rate, 4),
        }


@dataclass
class Summary:
    total: Bucket = field(default_factory=Bucket)
    by_template: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    by_model: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    by_day: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    fallback_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first: float | None = None
    last: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.as_dict(),
            "by_template": {k: v.as_dict() for k, v in sorted(self.by_template.items())},
            "by_model": {k: v.as_dict() for k, v in sorted(self.by_model.items())},
            "by_day": {k: v.as_dict() for k, v in sorted(self.by_day.items())},
            "fallback_reasons": dict(self.fallback_reasons),
            "first": _iso(self.first),
            "last": _iso(self.last),
        }


def _iso(ts: float | None) -> str | None:
    from datetime import UTC, datetime  # only when summarising: recording runs on every cache hit

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts is not None else None


_SPLIT = ("items", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_micro", "saved_micro")


def shares(value: int, n: int) -> list[int]:
    """`value` split into `n` whole parts that add up to it exactly (the first parts take the remainder)."""
    base, rest = divmod(value, n)
    return [base + (1 if i < rest else 0) for i in range(n)]


def split_event(e: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """One event's share for each of `n` templates it served: a request that carried code_review and
    security together counts once in the totals and half (to the micro-dollar) under each template, so
    the per-template figures add up to the totals in text, JSON and HTML alike. The request itself goes
    to the first template (a request count cannot be halved)."""
    if n <= 1:
        return [e]
    parts = {k: shares(int(e.get(k, 1 if k == "items" else 0)), n) for k in _SPLIT}
    out = []
    for i in range(n):
        part = dict(e) | {k: v[i] for k, v in parts.items()}
        if e.get("source") == "request" and i > 0:
            part["source"] = "request-share"  # tokens and cost, not another request
        out.append(part)
    return out


def summarize(events: Iterable[dict[str, Any]], since: float | None = None) -> Summary:
    from datetime import UTC, datetime

    s = Summary()
    for e in events:
        ts = float(e.get("ts", 0))
        if since is not None and ts < since:
            continue
        s.first = ts if s.first is None else min(s.first, ts)
        s.last = ts if s.last is None else max(s.last, ts)
        s.total.add(e)
        if e.get("template"):
            names = str(e["template"]).split(",")
            for t, share in zip(names, split_event(e, len(names)), strict=True):
                s.by_template[t].add(share)
        if e.get("model"):
            s.by_model[str(e["model"])].add(e)
        s.by_day[datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")].add(e)
        if e.get("source") == "local" and e.get("reason"):
            s.fallback_reasons[str(e["reason"])] += int(e.get("items", 1))
    return s
