"""The usage report: one self-contained HTML page people can look at (#11).

`write_html` backs `symphony-assist stats --html`; `render_html` is what the HTTP API serves at
GET /assistant/dashboard; `dashboard_html(assistant)` reads the stats log and the ledger itself.

The page fetches nothing: inline CSS, inline SVG charts, one line of inline JS (the `?theme=dark|light`
override), and a Content-Security-Policy that forbids every network load (the script is allowed by its
hash). Light and dark follow `prefers-color-scheme`; the grid collapses to one column on a narrow screen.
Every name shown (template, model, run, fallback reason) comes from the stats log and goes through
`charts.escape` (controls and invisibles removed, then HTML-escaped).

Every data mark carries data attributes (`data-series`, `data-day` or `data-name`, `data-value`) inside an
`<svg data-chart=...>`, so a test (or a curious reader) can check the numbers behind the picture.
Days are UTC, as in `assistant.stats` and the budget ledger.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..assistant.stats import Bucket, Summary, summarize
from .charts import Series, cap_in_scale, day_chart, escape, fmt_count, fmt_money, fmt_pct, nice, ranking
from .figures import MAX_DAYS, Event, cap_of, days_of, saved_tokens, template_costs, top_runs

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..config import Settings

__all__ = ["MAX_DAYS", "dashboard_html", "days_of", "render_html", "write_html"]

TOP = 8  # templates and models listed


def write_html(
    path: str | Path,
    summary: Summary,
    budget: Mapping[str, Any],
    settings: Settings,
    *,
    events: Iterable[Event] | None = None,
) -> None:
    """Write the report to `path` (UTF-8). `events` are the events `summary` was made from (for runs)."""
    page = render_html(summary, budget, settings, events=None if events is None else list(events))
    Path(path).write_text(page, encoding="utf-8")


def dashboard_html(assistant: Assistant, *, since: float | None = None) -> str:
    """The report for `assistant`'s stats log and ledger: what GET /assistant/dashboard serves."""
    events = [e for e in assistant.stats.read() if since is None or float(e.get("ts", 0)) >= since]
    budget: dict[str, Any]
    try:
        budget = assistant.ledger.status()
    except Exception as exc:  # an unreadable ledger is one line on the page, never a failed page
        budget = {"error": str(exc)}
    return render_html(summarize(events), budget, assistant.settings, events=events)


# ------------------------------------------------------------------------------------------ page
_LIGHT = (
    "--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--card:#f6f8fa;--border:#d1d9e0;--grid:#e3e8ed;"
    "--spend:#0969da;--month:#0969da;--cap:#cf222e;--over:#cf222e;--hit:#1a7f37;--sent:#8250df;--saved:#1a7f37;--local:#bc4c00;--rank:#0969da"
)
_DARK = (
    "--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#151b23;--border:#3d444d;--grid:#262c36;"
    "--spend:#4493f8;--month:#4493f8;--cap:#f85149;--over:#f85149;--hit:#3fb950;--sent:#ab7df8;--saved:#3fb950;--local:#f0883e;--rank:#4493f8"
)
_CSS = (
    f":root{{color-scheme:light;{_LIGHT}}}"
    f":root[data-theme=dark]{{color-scheme:dark;{_DARK}}}"
    f"@media (prefers-color-scheme:dark){{:root:not([data-theme=light]){{color-scheme:dark;{_DARK}}}}}"
    """
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:1100px;margin:0 auto;padding:20px 16px 40px}
h1{font-size:1.45rem;margin:0 0 2px}h2{font-size:1rem;margin:0 0 8px}
.sub,.note,.empty,figcaption{color:var(--muted);font-size:.85rem}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:16px 0}
.kpi{background:var(--card);border:1px solid var(--border);border-radius:8px;padding:10px 12px}
.kpi b{display:block;font-size:1.3rem;font-variant-numeric:tabular-nums}.kpi span{color:var(--muted);font-size:.8rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:14px;align-items:start}
#runs{grid-column:1/-1}
figure,section.card{margin:0;background:var(--card);border:1px solid var(--border);border-radius:8px;padding:12px 14px}
svg{display:block;width:100%;height:auto;overflow:visible}
svg text{fill:var(--muted);font-size:12px;font-variant-numeric:tabular-nums}svg text.name{fill:var(--fg)}
svg line.grid{stroke:var(--grid);stroke-width:1}
svg line.cap{stroke:var(--cap);stroke-width:1.5;stroke-dasharray:5 4}
svg .over{fill:var(--cap)}
.s-spend{fill:var(--spend)}.s-sent{fill:var(--sent)}.s-saved{fill:var(--saved)}.s-local{fill:var(--local)}
.s-rank{fill:var(--rank)}.s-hit{fill:var(--hit)}.s-month{fill:var(--spend)}
polyline{fill:none;stroke-width:2}.l-hit{stroke:var(--hit)}.l-month{stroke:var(--spend)}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:.8rem;color:var(--muted);margin:4px 0 0}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px;
background:var(--c)}.legend i.dash{width:16px;height:0;border-top:2px dashed var(--c);border-radius:0;
background:none;vertical-align:3px}
.table{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.85rem;font-variant-numeric:tabular-nums}
th,td{text-align:right;padding:5px 8px;border-bottom:1px solid var(--border);white-space:nowrap}
th.l,td.l{text-align:left}th{color:var(--muted);font-weight:600}
@media (max-width:520px){svg text{font-size:17px}}
code{font-size:.85em}ul{margin:6px 0 0;padding-left:18px;font-size:.85rem}
"""
)
# Runs before first paint: `?theme=dark` / `?theme=light` overrides prefers-color-scheme.
_JS = (
    'var t=new URLSearchParams(location.search).get("theme");'
    'if(t==="dark"||t==="light")document.documentElement.setAttribute("data-theme",t);'
)
_JS_HASH = base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
_CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_JS_HASH}'; img-src data:"


def _swatch(colour: str) -> str:
    if not colour:
        return ""
    return f'<i class="{"dash" if colour == "cap" else "box"}" style="--c:var(--{colour})"></i>'


def _figure(chart: str, title: str, body: str, caption: str = "", legend: Sequence[tuple[str, str]] = ()) -> str:
    """A chart card; `legend` is (colour, text) pairs, colour `cap` drawn as the dashed cap line."""
    keys = "".join(f"<span>{_swatch(c)}{escape(t)}</span>" for c, t in legend)
    return (
        f'<figure id="{chart}"><h2 id="{chart}-t">{escape(title)}</h2>{body}'
        + (f'<div class="legend">{keys}</div>' if keys else "")
        + (f"<figcaption>{caption}</figcaption>" if caption else "")
        + "</figure>"
    )


def _spend_figure(
    chart: str, title: str, days: Sequence[str], series: Series, cap: int | None, period: str, caption: str = ""
) -> str:
    legend = [(series.name, series.label)]
    if cap is None:
        legend.append(("", f"no {period} cap set"))
    else:
        legend.append(("cap", f"{period} cap {fmt_money(cap)}"))
        if not cap_in_scale([series], cap):
            legend[-1] = ("cap", legend[-1][1] + " (far above this scale)")
        if any((v or 0) > cap for v in series.values.values()):
            legend.append(("over", "over the cap"))
    body = day_chart(chart, days, [series], fmt_money, cap=cap)
    return _figure(chart, title, body, caption, legend=legend)


def _table(
    head: Sequence[str], rows: Sequence[Sequence[str]], attrs: Sequence[str] = (), text: Collection[int] = (0,)
) -> str:
    """A table that scrolls sideways inside its card. Cells are plain text (escaped here); the columns in
    `text` are left-aligned, the others hold numbers."""

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(f"<{tag}{' class=l' if i in text else ''}>{escape(v)}</{tag}>" for i, v in enumerate(values))

    body = "".join(f"<tr{attrs[i] if i < len(attrs) else ''}>{cells('td', r)}</tr>" for i, r in enumerate(rows))
    return f'<div class="table"><table><thead><tr>{cells("th", head)}</tr></thead><tbody>{body}</tbody></table></div>'


def _budget_kpi(budget: Mapping[str, Any], period: str, label: str) -> str:
    info = budget.get(period)
    if not isinstance(info, Mapping):
        return ""
    spent, cap = int(info.get("spent") or 0), info.get("cap")
    of = f" of {fmt_money(int(cap))}" if cap is not None else " (no cap)"
    return f'<div class="kpi"><b>{escape(fmt_money(spent))}</b><span>{escape(label + of)}</span></div>'


def render_html(
    summary: Summary,
    budget: Mapping[str, Any],
    settings: Settings,
    *,
    events: Sequence[Event] | None = None,
    now: float | None = None,
) -> str:
    """The whole report page. `events` (the events `summary` was made from) add the runs table and
    per-model token estimates; without them those parts say so."""
    days = days_of(summary)
    day = {d: summary.by_day.get(d) or Bucket() for d in days}
    day_cap = cap_of(budget, "day", settings.budget_daily)
    month_cap = cap_of(budget, "month", settings.budget_monthly)
    month_to_date: dict[str, float | None] = {}
    running, month = 0, ""
    for d in days:
        running = (running if d[:7] == month else 0) + day[d].cost_micro
        month = d[:7]
        month_to_date[d] = running
    saved = saved_tokens(summary, events)
    t = summary.total
    generated = datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y-%m-%d %H:%M UTC")
    period = f"{days[0]} to {days[-1]} (UTC)" if days else "no usage recorded yet"
    if days and min(summary.by_day) < days[0]:
        period += f", the last {len(days)} days"

    kpis = [
        (fmt_money(t.cost_micro), "spent"),
        (fmt_money(t.saved_micro), "saved by the cache"),
        (f"{t.hit_rate:.1%}", f"cache hit rate ({t.cache_items:,} of {t.items:,} answers)"),
        (f"{t.fallback_rate:.1%}", f"fallback rate ({t.local_items:,} local)"),
        (f"{t.requests:,}", "requests sent"),
        (fmt_count(t.prompt_tokens + t.completion_tokens), "tokens sent"),
        (fmt_count(sum(saved.values())), "tokens saved (est.)"),
    ]
    kpi_html = "".join(f'<div class="kpi"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for v, k in kpis)
    kpi_html += _budget_kpi(budget, "day", "today") + _budget_kpi(budget, "month", "this month")
    if "error" in budget:
        kpi_html += f'<div class="kpi"><b>?</b><span>budget unreadable: {escape(str(budget["error"]))}</span></div>'

    rate = {d: (b.cache_items / b.items if b.items else None) for d, b in day.items()}
    local = {d: (b.local_items / b.items if b.items else None) for d, b in day.items()}
    figures = [
        _spend_figure(
            "spend-day",
            "Spend per day",
            days,
            Series("spend", "spent", {d: b.cost_micro for d, b in day.items()}),
            day_cap,
            "daily",
        ),
        _spend_figure(
            "spend-month",
            "Month to date",
            days,
            Series("month", "spent this month", month_to_date, line=True),
            month_cap,
            "monthly",
            "Spend since the first of each month (UTC).",
        ),
        _figure(
            "hit-rate",
            "Cache hit rate",
            day_chart("hit-rate", days, [Series("hit", "from the cache", rate, line=True)], fmt_pct, ceiling=1.0),
            "Share of answers served from the cache, per day with answers.",
        ),
        _figure(
            "tokens",
            "Tokens sent and saved",
            day_chart(
                "tokens",
                days,
                [
                    Series("sent", "tokens sent", {d: b.prompt_tokens + b.completion_tokens for d, b in day.items()}),
                    Series("saved", "tokens saved", {d: saved.get(d, 0) for d in days}),
                ],
                fmt_count,
            ),
            "Saved tokens are estimated from the saved cost at each model's average cost per token.",
            legend=[("sent", "sent (prompt + completion)"), ("saved", "saved by the cache (est.)")],
        ),
        _figure(
            "fallback",
            "Fallback rate",
            day_chart(
                "fallback",
                days,
                [Series("local", "answered locally", local)],
                fmt_pct,
                ceiling=min(1.0, max(0.1, nice(max((v for v in local.values() if v is not None), default=0.0)))),
            )
            + _reasons(summary.fallback_reasons),
            "Share of answers the local analyzers gave because the service could not (no key, budget, outage).",
        ),
        _figure("templates", "Top templates by cost", ranking("templates", _top(template_costs(summary, events)))),
        _figure(
            "models",
            "Top models by cost",
            ranking("models", _top({k: b.cost_micro for k, b in summary.by_model.items()})),
        ),
    ]
    sections = [_runs_section(events), _months_section(budget, month_cap)]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>symphony-assist usage</title><style>{_CSS}</style><script>{_JS}</script></head><body><main>"
        f'<h1>symphony-assist usage</h1><p class="sub">{escape(period)} · generated {generated}</p>'
        f'<div class="kpis">{kpi_html}</div><div class="grid">{"".join(figures + sections)}</div>'
        '<p class="note">Days are UTC. Spend comes from the stats log; the monthly table from the budget ledger.</p>'
        "</main></body></html>\n"
    )


def _top(costs: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(((k, v) for k, v in costs.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))[:TOP]


def _reasons(reasons: Mapping[str, int]) -> str:
    if not reasons:
        return ""
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return "<ul>" + "".join(f"<li>{n:,} × {escape(r)}</li>" for r, n in top) + "</ul>"


def _runs_section(events: Sequence[Event] | None) -> str:
    head = '<section class="card" id="runs"><h2>Most expensive runs</h2>'
    if events is None:
        return head + '<p class="empty">Run details need the raw events (stats --html passes them).</p></section>'
    runs = [r for r in top_runs(events) if r.cost > 0]
    if not runs:
        return head + '<p class="empty">No spend recorded.</p></section>'
    rows = [
        [
            datetime.fromtimestamp(r.start, UTC).strftime("%Y-%m-%d %H:%M"),
            fmt_money(r.cost),
            f"{r.answers:,}",
            f"{r.cached / r.answers if r.answers else 0:.0%}",
            f"{r.requests:,}",
            f"{r.tokens:,}",
            r.run[:16],
            ", ".join(sorted(r.templates))[:60],
        ]
        for r in runs
    ]
    attrs = [f' data-run="{escape(r.run)}" data-value="{r.cost}"' for r in runs]
    head_row = ["started (UTC)", "cost", "answers", "cached", "requests", "tokens", "run", "templates"]
    table = _table(head_row, rows, attrs, text=(0, 6, 7))
    return head + table + "</section>"


def _months_section(budget: Mapping[str, Any], cap: int | None) -> str:
    months = budget.get("months")
    head = '<section class="card" id="months"><h2>Spend per month (budget ledger)</h2>'
    if not isinstance(months, Mapping) or not months:
        return head + '<p class="empty">The ledger has no spend recorded.</p></section>'
    rows = [
        [str(m), fmt_money(int(v)), fmt_money(cap) if cap else "none", f"{int(v) / cap:.0%}" if cap else ""]
        for m, v in sorted(months.items(), reverse=True)[:12]
    ]
    return head + _table(["month", "spent", "cap", "of cap"], rows) + "</section>"
