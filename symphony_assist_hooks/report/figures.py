"""What the usage report is computed from: days, caps, the costliest runs, cost per template, tokens
saved per day (report.py renders them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..assistant.stats import Summary

__all__ = ["MAX_DAYS", "TOP_RUNS", "Event", "Run", "cap_of", "days_of", "saved_tokens", "template_costs", "top_runs"]

MAX_DAYS = 90  # the charts show at most this many days, the most recent ones
TOP_RUNS = 10

Event = Mapping[str, Any]


def days_of(summary: Summary, limit: int = MAX_DAYS) -> list[str]:
    """Every UTC day from the first to the last one with events (gaps filled), at most the last `limit`."""
    if not summary.by_day:
        return []
    keys = sorted(summary.by_day)
    last = date.fromisoformat(keys[-1])
    start = max(date.fromisoformat(keys[0]), last - timedelta(days=max(1, limit) - 1))
    return [(start + timedelta(days=i)).isoformat() for i in range((last - start).days + 1)]


def cap_of(budget: Mapping[str, Any], period: str, configured: float | None) -> int | None:
    """The cap (micro-dollars) of `period` as the ledger reports it, else as configured; None = no cap."""
    info = budget.get(period)
    if isinstance(info, Mapping) and "cap" in info:
        return None if info["cap"] is None else int(info["cap"])
    return None if configured is None else round(configured * 1_000_000)


@dataclass
class Run:
    run: str
    start: float
    requests: int = 0
    answers: int = 0
    cached: int = 0
    tokens: int = 0
    cost: int = 0
    templates: set[str] = field(default_factory=set)


def top_runs(events: Iterable[Event]) -> list[Run]:
    runs: dict[str, Run] = {}
    for e in events:
        name = str(e.get("run") or "?")
        ts = float(e.get("ts", 0))
        r = runs.setdefault(name, Run(name, ts))
        r.start = min(r.start, ts)
        if e.get("template"):
            r.templates.update(str(e["template"]).split(","))
        if e.get("source") == "request":
            r.requests += 1
            r.tokens += int(e.get("prompt_tokens", 0)) + int(e.get("completion_tokens", 0))
            r.cost += int(e.get("cost_micro", 0))
        else:
            r.answers += int(e.get("items", 1))
            r.cached += int(e.get("items", 1)) if e.get("source") == "cache" else 0
    return sorted(runs.values(), key=lambda r: (-r.cost, -r.start))[:TOP_RUNS]


def template_costs(summary: Summary, events: Sequence[Event] | None) -> dict[str, int]:
    """Cost per template; a request that carried several checklists is split evenly between them."""
    if events is None:
        return {k: b.cost_micro for k, b in summary.by_template.items()}
    out: dict[str, int] = defaultdict(int)
    for e in events:
        if e.get("source") == "request" and e.get("template"):
            names = str(e["template"]).split(",")
            for n in names:
                out[n] += int(e.get("cost_micro", 0)) // len(names)
    return out


def saved_tokens(summary: Summary, events: Sequence[Event] | None) -> dict[str, int]:
    """Tokens the cache saved per day: an event's `saved_tokens` when it carries one, else its saved cost
    divided by what a token of that model cost in this history (the overall average for an unseen model)."""
    rates: dict[str, float] = {}
    for name, b in [("", summary.total), *summary.by_model.items()]:
        tokens = b.prompt_tokens + b.completion_tokens
        if tokens and b.cost_micro:
            rates[name] = b.cost_micro / tokens
    out: dict[str, int] = defaultdict(int)
    if events is None:
        for day, b in summary.by_day.items():
            out[day] = round(b.saved_micro / rates[""]) if "" in rates else 0
        return out
    for e in events:
        if e.get("source") != "cache":
            continue
        day = datetime.fromtimestamp(float(e.get("ts", 0)), UTC).strftime("%Y-%m-%d")
        if "saved_tokens" in e:
            out[day] += int(e["saved_tokens"])
            continue
        rate = rates.get(str(e.get("model", "")), rates.get(""))
        out[day] += round(int(e.get("saved_micro", 0)) / rate) if rate else 0
    return out
