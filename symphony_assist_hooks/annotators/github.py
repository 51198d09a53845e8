"""GitHub Actions: workflow-command annotations in the log, a markdown report in the step summary.

The runner (actions/runner `ActionCommand.cs`) executes a log line as a command when, after
`TrimStart()`, it starts with `::` (V2) or — tried only if V2 fails — when it contains `##[`
anywhere (legacy). Model text is therefore never printed raw; every line is built by `logsafe`:

- In an annotation it is cleaned (no ANSI/OSC, controls, bidi, invisibles) and escaped with the
  toolkit's exact rules (`logsafe.workflow_command`), so it stays inside our one command line;
  `##[` is broken too.
- Free text (pytest explanations) is wrapped in `::stop-commands::<token>` … `::<token>::` with
  a random per-run token, and every line is made inert and gets a `│ ` gutter, so no line can
  start with `::` even if the pause were ignored.

GitHub shows at most 10 errors, 10 warnings and 10 notices per step and 50 per job: the most
severe findings are annotated and one notice points to the job summary, which lists them all.
Severity: critical/high → error, medium → warning, low/info → notice.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..findings import Finding, Report, Severity
from ..logsafe import (
    clean,
    defuse,
    escape_data,
    escape_property,
    inert_lines,
    stop_commands_block,
    workflow_command,
)
from .base import (
    RenderContext,
    clip,
    one_line,
    relative_path,
    report_items,
    source_label,
    summary_line,
)
from .summary import render_summary

__all__ = [
    "KIND",
    "GithubAnnotator",
    "escape_data",
    "escape_property",
    "select",
    "stop_commands_block",
    "workflow_command",
]

KIND = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}
MESSAGE_LIMIT = 4000


def _defang(s: str) -> str:
    return s.replace("##[", "## [")


def _annotation(f: Finding, ctx: RenderContext) -> str:
    rel = relative_path(f.path, ctx.workspace)
    file = one_line(rel, 1000) if rel else None
    title = _defang(one_line(f"[{f.rule}] {f.title}", 250))
    parts = [clean(f.message).strip() or one_line(f.title)]
    if f.suggestion.strip():
        parts.append("fix: " + clean(f.suggestion).strip())
    parts.append(f"({source_label(f)})")
    message = _defang(clip("\n\n".join(parts), MESSAGE_LIMIT))
    line = max(f.line, 1)
    return workflow_command(
        KIND[f.severity],
        message,
        file=file,
        line=line if file else None,
        end_line=max(f.end_line, line) if file else None,
        title=title,
    )


def select(items: Sequence[Finding], per_kind: int, total: int) -> tuple[list[Finding], int]:
    """The findings to annotate (input order, most severe first) and how many are left out.

    When some are left out, one notice slot and one job slot are kept for the "N more" notice.
    """

    def pick(notice_cap: int, total_cap: int) -> list[Finding]:
        taken = {"error": 0, "warning": 0, "notice": 0}
        shown: list[Finding] = []
        for f in items:
            kind = KIND[f.severity]
            cap = notice_cap if kind == "notice" else per_kind
            if taken[kind] < cap and len(shown) < total_cap:
                taken[kind] += 1
                shown.append(f)
        return shown

    shown = pick(per_kind, total)
    if len(shown) < len(items):
        shown = pick(per_kind - 1, total - 1)
    return shown, len(items) - len(shown)


def _explanation_lines(report: Report) -> list[str]:
    lines: list[str] = []
    for e in report.explanations:
        lines.append(f"{one_line(e.test_id, 300)}  [{one_line(e.category, 60)}]  ({one_line(e.source, 20)})")
        lines += ["    " + ln for ln in inert_lines(e.explanation.strip())]
        if e.fix.strip():
            fix = inert_lines(e.fix.strip())
            lines += ["    fix: " + fix[0]] + ["         " + ln for ln in fix[1:]]
    return lines


class GithubAnnotator:
    name = "github"
    default_stream = "stdout"

    def render(self, report: Report, ctx: RenderContext) -> str:
        items = report_items(report)
        shown, hidden = select(items, ctx.max_annotations_per_kind, ctx.max_annotations_total)
        lines = [_annotation(f, ctx) for f in shown]
        if hidden:
            noun = "finding" if hidden == 1 else "findings"
            lines.append(workflow_command("notice", f"{hidden} more {noun} — see the job summary / SARIF"))
        if report.explanations:
            lines += stop_commands_block(_explanation_lines(report), ctx.token)
        lines.append(defuse(summary_line(report)))
        return "\n".join(lines) + "\n"

    def render_summary(self, report: Report, ctx: RenderContext) -> str:
        return render_summary(report, ctx)
