"""Inline SVG charts for the usage report: pure functions from numbers to markup (#11).

Every data mark carries `data-series`, `data-day` (or `data-name`) and `data-value`, inside an
`<svg data-chart=...>`; colours come from the page's CSS classes (`s-<series>`, `l-<series>`, `cap`),
so the same markup reads in light and dark mode. All text passes through `escape`: controls and
invisible characters removed (`logsafe.clean`), then `html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape as html_escape

from ..logsafe import clean

__all__ = ["Series", "cap_in_scale", "day_chart", "escape", "fmt_count", "fmt_money", "fmt_pct", "nice", "ranking"]


def escape(text: str) -> str:
    """Text for HTML content or a quoted attribute: names in the stats log (a model name, a reason
    quoting a server) are untrusted, so controls, escapes and invisibles go first, then `html.escape`."""
    return html_escape(clean(str(text), keep_newlines=False))


W, H = 480, 210
LEFT, RIGHT, TOP_M, BOTTOM = 52, 10, 16, 28


@dataclass(frozen=True)
class Series:
    name: str
    label: str
    values: Mapping[str, float | None]  # by day; None = no data that day (a gap in a line)
    line: bool = False


def nice(v: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) at or above `v`; 0 for 0."""
    if v <= 0:
        return 0.0
    exp = 10 ** math.floor(math.log10(v))
    return float(next(m * exp for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * exp >= v * (1 - 1e-9)))


def _highest(series: Sequence[Series]) -> float:
    return max([0.0, *(v for s in series for v in s.values.values() if v is not None)])


def cap_in_scale(series: Sequence[Series], cap: int) -> bool:
    """Whether the axis stretches to show `cap`: not when it is so far above the data that every mark
    would lie flat at the bottom (the legend says so instead)."""
    top = _highest(series)
    return top == 0 or cap <= 5 * top


def fmt_money(micro: float) -> str:
    """Dollars from micro-dollars: cents when exact (`$0.30`), else four decimals (`$0.0150`), so a cap of
    $0.015 never reads as $0.01; smaller amounts keep their digits (`$0.000012`)."""
    m = round(micro)
    if m % 10_000 == 0 or abs(m) >= 100_000_000:
        return f"${m / 1e6:,.2f}"
    if abs(m) >= 100:
        return f"${m / 1e6:,.4f}"
    return "$" + f"{m / 1e6:.6f}".rstrip("0")


def fmt_pct(v: float) -> str:
    return f"{v:.0%}" if abs(v * 100 - round(v * 100)) < 1e-9 else f"{v:.1%}"


def fmt_count(v: float) -> str:
    n = round(v)
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n / 1e3:.1f}k" if n >= 10_000 else f"{n:,}"


def _num(v: float) -> str:
    return f"{v:.6g}"


def day_chart(
    chart: str,
    days: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str],
    *,
    cap: int | None = None,
    ceiling: float | None = None,
    limit: float | None = None,
) -> str:
    """Bars (grouped per day) and lines over `days`, a y axis from 0, and an optional cap line.

    The axis ends at `ceiling` if given, else at a round number above the data (and the cap, unless the
    cap is so far above that every bar would be flat), never above `limit`. Marks above the cap get the
    class `over`.
    """
    top = _highest(series)
    if cap is not None and cap_in_scale(series, cap):
        top = max(top, cap)
    top = ceiling if ceiling is not None else nice(top)
    if limit is not None:
        top = min(top, limit)
    top = top or 1.0
    pw, ph = W - LEFT - RIGHT, H - TOP_M - BOTTOM
    n = max(1, len(days))
    slot = pw / n

    def y(v: float) -> float:
        return TOP_M + ph - ph * min(v, top) / top

    out = [
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-labelledby="{chart}-t" data-chart="{chart}" '
        f'data-days="{len(days)}" preserveAspectRatio="xMidYMid meet">'
    ]
    for frac in (0.0, 0.5, 1.0):
        gy = y(top * frac)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}"/>')
        out.append(
            f'<text class="axis" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">{escape(fmt(top * frac))}</text>'
        )
    labelled = {0, len(days) - 1, len(days) // 2} if len(days) > 2 else set(range(len(days)))
    for i, day in enumerate(days):
        if i in labelled:
            x = LEFT + slot * (i + 0.5)
            out.append(f'<text class="axis" x="{x:.1f}" y="{H - 8}" text-anchor="middle">{day[5:]}</text>')
    bars = [s for s in series if not s.line]
    width = slot * 0.8 / max(1, len(bars))
    for k, s in enumerate(bars):
        for i, day in enumerate(days):
            v = s.values.get(day) or 0.0
            x = LEFT + slot * i + slot * 0.1 + width * k
            over = " over" if cap is not None and v > cap else ""
            out.append(
                f'<rect class="s-{s.name}{over}" data-series="{s.name}" data-day="{day}" data-value="{_num(v)}" '
                f'x="{x:.1f}" y="{y(v):.1f}" width="{max(width - 1, 1):.1f}" height="{y(0) - y(v):.1f}">'
                f"<title>{day}: {escape(fmt(v))} {escape(s.label)}</title></rect>"
            )
    for s in (s for s in series if s.line):
        segments: list[list[str]] = [[]]
        marks = []
        for i, day in enumerate(days):
            point = s.values.get(day)
            if point is None:
                segments.append([])
                continue
            x, py = LEFT + slot * (i + 0.5), y(point)
            segments[-1].append(f"{x:.1f},{py:.1f}")
            over = " over" if cap is not None and point > cap else ""
            marks.append(
                f'<circle class="s-{s.name}{over}" data-series="{s.name}" data-day="{day}" data-value="{_num(point)}" '
                f'cx="{x:.1f}" cy="{py:.1f}" r="3.5"><title>{day}: {escape(fmt(point))} {escape(s.label)}</title>'
                "</circle>"
            )
        out += [f'<polyline class="l-{s.name}" points="{" ".join(p)}"/>' for p in segments if len(p) > 1]
        out += marks
    if cap is not None and cap <= top:
        cy = y(cap)
        out.append(
            f'<line class="cap" data-cap="{cap}" x1="{LEFT}" x2="{W - RIGHT}" y1="{cy:.1f}" y2="{cy:.1f}">'
            f"<title>cap {escape(fmt_money(cap))}</title></line>"
        )
    out.append("</svg>")
    return "".join(out)


def ranking(chart: str, rows: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one row per name: the name above its bar, the cost at the right."""
    if not rows:
        return '<p class="empty">No spend recorded.</p>'
    row_h = 38
    top = max(v for _, v in rows) or 1
    out = [f'<svg viewBox="0 0 {W} {row_h * len(rows)}" role="img" aria-labelledby="{chart}-t" data-chart="{chart}">']
    for i, (name, value) in enumerate(rows):
        y0 = i * row_h
        shown = name if len(name) <= 56 else name[:55] + "…"
        out.append(
            f'<text class="name" x="0" y="{y0 + 13}">{escape(shown)}</text>'
            f'<text class="axis" x="{W}" y="{y0 + 13}" text-anchor="end">{escape(fmt_money(value))}</text>'
            f'<rect class="s-rank" data-series="cost" data-name="{escape(name)}" data-value="{value}" x="0" '
            f'y="{y0 + 19}" width="{max(W * value / top, 1):.1f}" height="12" rx="2">'
            f"<title>{escape(name)}: {escape(fmt_money(value))}</title></rect>"
        )
    out.append("</svg>")
    return "".join(out)
