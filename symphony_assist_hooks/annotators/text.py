"""The terminal format: `path:line: severity [rule] title (source)`, grouped by file.

```
src/app.py:12: high [sql-injection] Query built from user input (api)
    `name` is interpolated into the SQL string.
    fix: pass it as a parameter.

symphony-assist: 1 finding (1 high) · 3 hunks reviewed · … · cost $0.0012 · …
```
Pytest reports list each explanation (test id, category, source, explanation, fix) first. Every
untrusted string (model text, file names, test ids) goes through `logsafe.clean`; the only
escape sequences in the output are our own colours, and only when `ctx.color` is true. The text
also lands in CI logs (pre-commit in a workflow), so no line may read as a workflow command: every
final line passes `logsafe.defuse` (`##[` broken up, a line starting with `::` behind a `│ ` gutter).
`Report.notices` are not repeated here: the adapter prints them to stderr with `Console.notice`.
With `ctx.compact` (a git hook that passes) only the first line of each finding of severity low or
above is written (an info note such as "looks fine" is not worth a line on every commit), and nothing
at all when there is none: the hook's output is shown on every commit.
"""

from __future__ import annotations

from itertools import groupby

from ..findings import Explanation, Finding, Report, Severity
from ..logsafe import clean, defuse
from ..terminal.console import Console
from .base import RenderContext, one_line, relative_path, source_label, summary_line

__all__ = ["SEVERITY_STYLE", "TextAnnotator"]

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
INDENT = "    "


def _block(label: str, text: str) -> list[str]:
    """Indented multi-line text, `label` before its first line."""
    body = clean(text).strip()
    if not body:
        return []
    lines = [ln.rstrip() for ln in body.split("\n")]  # only \n: clean made every other separator a space
    pad = " " * len(label)
    return [INDENT + label + lines[0], *(INDENT + pad + ln if ln else "" for ln in lines[1:])]


def _finding(f: Finding, ctx: RenderContext) -> list[str]:
    path = one_line(relative_path(f.path, ctx.workspace) or f.path, 1000)  # file names are untrusted too
    severity = Console.paint(f.severity.value, SEVERITY_STYLE[f.severity], ctx.color)
    rule, source = one_line(f.rule, 80), source_label(f)
    head = f"{path}:{max(f.line, 1)}: {severity} [{rule}] {one_line(f.title)} ({source})"
    return [head, *_block("", f.message), *_block("fix: ", f.suggestion)]


def _explanation(e: Explanation) -> list[str]:
    head = f"{one_line(e.test_id, 1000)}: [{one_line(e.category, 60)}] ({one_line(e.source, 20)})"
    return [head, *_block("", e.explanation), *_block("fix: ", e.fix)]


class TextAnnotator:
    name = "text"
    default_stream = "stdout"

    def render(self, report: Report, ctx: RenderContext) -> str:
        out: list[str] = []
        for e in report.explanations:
            out += [*_explanation(e), ""]
        ordered = sorted(report.findings, key=lambda f: (f.path, f.line, -f.severity.rank, f.rule))
        if ctx.compact:
            heads = [_finding(f, ctx)[0] for f in ordered if f.severity is not Severity.INFO]
            return defuse("\n".join(heads)) + "\n" if heads else ""
        for _, group in groupby(ordered, key=lambda f: f.path):
            for f in group:
                out += _finding(f, ctx)
            out.append("")
        out.append(summary_line(report))
        # Printed in CI logs too (pre-commit in a workflow): no line may read as a workflow command.
        return defuse("\n".join(out)) + "\n"
