"""The job summary: every finding as GitHub-flavoured markdown for `$GITHUB_STEP_SUMMARY`.

GitHub rejects a step summary over 1 MiB (and shows an error annotation instead), so the text is
built against a byte budget (`RenderContext.summary_max_bytes`, default 512 KiB): table rows
first, then details, and a note saying how many were left out once the budget is spent. All model
text and file names go through `annotators.markdown`, so none of it can link, embed, mention or
break the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from ..findings import Explanation, Finding, Report
from . import markdown as md
from .base import RenderContext, one_line, relative_path, sort_key, source_label, summary_line

__all__ = ["render_summary"]

_RESERVE = 1024  # bytes kept for closing tags and truncation notes
_FLOOR = 16 * 1024  # the title and tally line always fit
T = TypeVar("T")


class _Budget:
    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit

    def add(self, text: str, *, force: bool = False) -> bool:
        n = len(text.encode("utf-8", "replace")) + 1  # as written: lone surrogates are replaced
        if not force and self.size + n > self.limit - _RESERVE:
            return False
        self.parts.append(text)
        self.size += n
        return True

    def add_all(self, items: Sequence[T], render: Callable[[int, T], str]) -> int:
        """Adds rendered items until the budget is spent; returns how many did not fit."""
        for i, item in enumerate(items):
            if not self.add(render(i + 1, item)):
                return len(items) - i
        return 0


def _location(f: Finding, ctx: RenderContext) -> str:
    path = relative_path(f.path, ctx.workspace) or one_line(f.path, 200)
    span = f"{f.line}" if f.end_line <= f.line else f"{f.line}-{f.end_line}"
    return f"{path}:{span}"


def _finding_row(ctx: RenderContext) -> Callable[[int, Finding], str]:
    def row(i: int, f: Finding) -> str:
        cells = [
            str(i),
            f.severity.value,
            md.code_span(_location(f, ctx), in_table=True),
            md.code_span(f.rule, in_table=True, limit=80),
            md.cell(f.title),
            md.cell(source_label(f, 120), 120),
        ]
        return "| " + " | ".join(cells) + " |"

    return row


def _finding_detail(ctx: RenderContext) -> Callable[[int, Finding], str]:
    def detail(i: int, f: Finding) -> str:
        head = (
            f"**{i}\\. {md.text(f.title, 300)}** — {f.severity.value} · {md.code_span(_location(f, ctx))}"
            f" · {md.code_span(f.rule, limit=80)} · {md.text(source_label(f, 120), 120)}"
        )
        parts = [head]
        if f.message.strip():
            parts.append(md.paragraphs(f.message))
        if f.suggestion.strip():
            parts.append("**Fix:** " + md.paragraphs(f.suggestion))
        return "\n\n".join(parts) + "\n"

    return detail


def _explanation_row(i: int, e: Explanation) -> str:
    cells = [str(i), md.code_span(e.test_id, in_table=True), md.cell(e.category, 60), md.cell(e.source, 20)]
    return "| " + " | ".join(cells) + " |"


def _explanation_detail(i: int, e: Explanation) -> str:
    parts = [f"**{i}\\. {md.code_span(e.test_id)}** — {md.text(e.category, 60)} · {md.text(e.source, 20)}"]
    if e.explanation.strip():
        parts.append(md.paragraphs(e.explanation))
    if e.fix.strip():
        parts.append("**Fix:** " + md.paragraphs(e.fix))
    return "\n\n".join(parts) + "\n"


def _section(
    out: _Budget,
    items: Sequence[T],
    header: str,
    row: Callable[[int, T], str],
    detail: Callable[[int, T], str],
    noun: str,
) -> None:
    out.add(header, force=True)
    missing_rows = out.add_all(items, row)
    out.add("", force=True)
    if missing_rows:
        out.add(
            f"_Summary truncated: {missing_rows} more {noun} not listed (see the SARIF or JSON output)._\n", force=True
        )
        return
    out.add("<details><summary>Details</summary>\n", force=True)
    missing_details = out.add_all(items, detail)
    if missing_details:
        out.add(f"_Details of the last {missing_details} {noun} left out to stay under the size limit._\n", force=True)
    out.add("</details>\n", force=True)


def render_summary(report: Report, ctx: RenderContext) -> str:
    """Markdown for the step summary: at most `ctx.summary_max_bytes` (at least 16 KiB) of UTF-8."""
    out = _Budget(max(ctx.summary_max_bytes, _FLOOR))
    title = "test failures" if report.kind == "pytest" else "review"
    out.add(f"### symphony-assist {title}\n", force=True)
    out.add(md.text(summary_line(report), 4000) + "\n", force=True)
    if report.notices:
        out.add_all(report.notices[:20], lambda _, note: f"- {md.text(note, 500)}")
        out.add("", force=True)
    if report.explanations:
        _section(
            out,
            report.explanations,
            "| # | test | category | source |\n|---:|---|---|---|",
            _explanation_row,
            _explanation_detail,
            "explanations",
        )
    findings = sorted(report.findings, key=sort_key)
    if findings:
        _section(
            out,
            findings,
            "| # | severity | location | rule | finding | source |\n|---:|---|---|---|---|---|",
            _finding_row(ctx),
            _finding_detail(ctx),
            "findings",
        )
    elif not report.explanations:
        out.add("No findings.\n", force=True)
    return "\n".join(out.parts) + "\n"
