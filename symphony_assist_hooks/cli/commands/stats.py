"""`symphony-assist stats`: cached responses, hit rate, tokens, spend against budgets, savings."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from ...assistant import Assistant
from ...assistant.stats import Bucket, Summary, summarize
from ...config import Settings
from ...errors import EXIT_OK, UsageError
from ...logsafe import inert_json, inert_line
from ...report.figures import cap_of, stats_document
from ...report.html import days_of, write_html
from ...terminal.console import Console


def _since(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise UsageError(f"--since {text!r} is not a date: use YYYY-MM-DD") from None


def _usd(micro: int | float | None) -> str:
    return "none" if micro is None else f"${micro / 1e6:,.4f}"


def _line(label: str, b: Bucket) -> str:
    d = b.as_dict()
    return (
        f"{label:<24} {d['items']:>6} answers  {d['hit_rate']:>6.1%} cached  {d['fallback_rate']:>6.1%} local  "
        f"{d['prompt_tokens'] + d['completion_tokens']:>9} tokens  ${d['cost_usd']:>8.4f} spent  "
        f"${d['saved_usd']:>8.4f} saved"
    )


def spend_chart(summary: Summary, cap: int | None, *, days: int = 14, width: int = 40) -> list[str]:
    """Spend per UTC day against the daily cap, in plain characters (one line per day, gaps filled).

    `#` is spend, `|` the cap; the scale stretches to the cap unless it is far above every day's spend.
    """

    shown = days_of(summary, days)
    spend = {d: (summary.by_day[d].cost_micro if d in summary.by_day else 0) for d in shown}
    top = max(spend.values(), default=0)
    in_scale = cap is not None and (top == 0 or cap <= 5 * top)
    scale = max(top, cap if cap is not None and in_scale else 0) or 1
    if cap is None:
        head = "no daily cap"
    else:
        head = f"daily cap {_usd(cap)}" + (" marked |" if in_scale else " (far above this scale)")
    lines = [f"spend per day (UTC), {head}"]
    cap_col = round(cap * width / scale) if cap is not None and in_scale else None
    for d in shown:
        filled = round(spend[d] * width / scale)
        if spend[d] and not filled:
            filled = 1  # a day with spend is never drawn empty
        cells = ["#" if i < filled else " " for i in range(width + 1)]
        if cap_col is not None:
            cells[min(cap_col, width)] = "|"
        over = "  over the cap" if cap is not None and spend[d] > cap else ""
        lines.append(f"  {d[5:]}  {''.join(cells)}  {_usd(spend[d]):>9}{over}")
    return lines


def budget_lines(budget: dict[str, Any], settings: Settings) -> list[str]:
    """Spend against the caps that span runs (today, this month), and the per-run cap as the setting it
    is: outside a run there is no run spend to show."""
    if "error" in budget:
        return [f"budget             unreadable: {budget['error']}"]
    out = []
    for period, label in (("day", "today"), ("month", "this month")):
        info = budget.get(period) or {}
        if info:
            cap = info.get("cap")
            of = f"of {_usd(cap)} cap" if cap is not None else "(no cap)"
            out.append(f"budget {label:<11} {_usd(info.get('spent'))} spent {of}")
    run_cap = "none" if settings.budget_run is None else f"${settings.budget_run:.2f}"
    out.append(f"budget per run     {run_cap} cap per command, hook or pytest session (setting budget_run)")
    return out


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    since = _since(args.since)
    assistant = Assistant(settings)
    try:
        events = [e for e in assistant.stats.read() if since is None or float(e.get("ts", 0)) >= since]
        summary = summarize(events)
        budget: dict[str, Any] = {}
        try:
            budget = assistant.ledger.status()
        except Exception as exc:
            budget = {"error": str(exc)}
        entries = assistant.cache.info().get("entries")
    finally:
        assistant.close()
    if args.html:
        write_html(args.html, summary, budget, settings, events=events)
        console.notice(f"report written to {args.html}", None)

    def say(line: str = "") -> None:
        # Reasons, template and model names come from the stats log, which a team may share through
        # Redis, and reasons quote server text: every line is made inert for a terminal and a CI log.
        console.print(inert_line(line))

    if args.json:
        doc = stats_document(entries, budget, summary)
        console.print(inert_json(json.dumps(doc, indent=2, sort_keys=True, default=str)))
        return EXIT_OK
    t = summary.total.as_dict()
    # The seed's three headline figures first, then the detail. Every figure comes from `summary`
    # (the same one --json prints and --html draws), so the three outputs agree to the micro-dollar.
    say(f"Cached Responses   {entries if entries is not None else 'unknown'} (answers in the cache now)")
    say(f"Est. Cost Savings  ${t['saved_usd']:.4f} (what the answers served from the cache would have cost)")
    say(f"Efficiency         {t['hit_rate']:.1%} of answers served from the cache")
    say(f"answers            {t['items']} ({t['cache']} cache, {t['api']} api, {t['local']} local)")
    say(f"cache hit rate     {t['hit_rate']:.1%}")
    say(f"fallback rate      {t['fallback_rate']:.1%}")
    say(f"requests           {t['requests']}")
    say(
        f"tokens             {t['prompt_tokens']} prompt ({t['cached_tokens']} cached), "
        f"{t['completion_tokens']} completion"
    )
    say(f"spend              ${t['cost_usd']:.4f}")
    say(f"estimated savings  ${t['saved_usd']:.4f} (answers served from the cache)")
    for line in budget_lines(budget, settings):
        say(line)
    if summary.by_day:
        for line in spend_chart(summary, cap_of(budget, "day", settings.budget_daily)):
            say(line)
    if summary.fallback_reasons:
        say("fallback reasons")
        for reason, count in sorted(summary.fallback_reasons.items(), key=lambda kv: -kv[1]):
            say(f"  {count:>5}  {reason}")
    if summary.by_template:
        say("by template")
        for name, b in summary.by_template.items():
            say("  " + _line(name, b))
    if summary.by_model:
        say("by model")
        for name, b in summary.by_model.items():
            say("  " + _line(name, b))
    return EXIT_OK
