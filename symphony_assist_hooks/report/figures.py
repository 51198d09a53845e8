"""What the usage report is computed from: days, caps, the costliest runs, cost per template, tokens
saved per day (report.py renders them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..assistant.stats import Summary

__all__ = [
    "MAX_DAYS",
    "TOP_RUNS",
    "Event",
    "Run",
    "budget_with_usd",
    "cap_of",
    "days_of",
    "saved_tokens",
    "stats_document",
    "template_costs",
    "top_runs",
]

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


_AMOUNTS = ("spent", "reserved", "cap")
UNITS = "budget amounts: spent, reserved and cap are micro-dollars (1e-6 USD); the *_usd fields are dollars"


def budget_with_usd(budget: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger's status with each micro-dollar amount also given in dollars (`spent_usd` beside
    `spent`), so nobody reads 1500 as $1500."""
    out: dict[str, Any] = dict(budget)
    for period in ("run", "day", "month"):
        info = budget.get(period)
        if isinstance(info, Mapping):
            out[period] = dict(info) | {
                f"{k}_usd": (None if info[k] is None else round(int(info[k]) / 1e6, 6)) for k in _AMOUNTS if k in info
            }
    months = budget.get("months")
    if isinstance(months, Mapping):
        out["months_usd"] = {m: round(int(v) / 1e6, 6) for m, v in months.items()}
    if "error" not in budget:
        out["units"] = UNITS
    return out


def stats_document(entries: int | None, budget: Mapping[str, Any], summary: Summary) -> dict[str, Any]:
    """What `stats --json` prints and `GET /assistant/stats` answers: the summary (the same figures the
    text and the HTML report show), the cache size and the budget with its amounts in dollars too."""
    total = summary.total
    return {
        "cached_responses": entries,
        "estimated_savings_usd": round(total.saved_micro / 1e6, 6),
        "efficiency": round(total.hit_rate, 4),
        "budget": budget_with_usd(budget),
        **summary.as_dict(),
    }


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


def template_costs(summary: Summary, events: Sequence[Event] | None = None) -> dict[str, int]:
    """Cost per template, as `summarize` split it: a request that carried several checklists is split
    evenly between them (to the micro-dollar), the same figures `stats` prints as text and JSON."""
    del events  # the split is made once, in summarize
    return {k: b.cost_micro for k, b in summary.by_template.items()}


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
