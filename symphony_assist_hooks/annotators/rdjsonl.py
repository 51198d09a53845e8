"""reviewdog Diagnostic JSON Lines (`rdjsonl`, docs/reference.md#formats): one Diagnostic per line.

```
symphony-assist review --format rdjsonl | reviewdog -f=rdjsonl -reporter=github-pr-review
```
Each line: `message` (title, message and fix, sanitized), `location.path` (repo-relative) with a
line-wise `range` (no columns, so the end line is included), `severity` (critical/high → ERROR,
medium → WARNING, low/info → INFO), `source.name` and `code.value` (the rule). The fix is prose,
not replacement text, so it goes into the message and never into `suggestions` (reviewdog would
apply it as code). Lines are pure ASCII JSON: a non-ASCII line separator inside a string cannot
split a line. Findings whose path leaves the repository are left out.
"""

from __future__ import annotations

import json
from typing import Any

from ..findings import Finding, Report, Severity
from ..logsafe import clean, inert_json
from .base import TOOL_NAME, RenderContext, clip, one_line, relative_path, report_items

__all__ = ["SEVERITY", "RdjsonlAnnotator", "diagnostics"]

SEVERITY = {
    Severity.CRITICAL: "ERROR",
    Severity.HIGH: "ERROR",
    Severity.MEDIUM: "WARNING",
    Severity.LOW: "INFO",
    Severity.INFO: "INFO",
}


def _message(f: Finding) -> str:
    parts = [one_line(f.title, 500) or one_line(f.rule, 100)]
    if f.message.strip():
        parts.append(clean(f.message).strip())
    if f.suggestion.strip():
        parts.append("fix: " + clean(f.suggestion).strip())
    return clip("\n\n".join(parts), 8000)


def diagnostics(report: Report, ctx: RenderContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in report_items(report):
        path = relative_path(f.path, ctx.workspace)
        if path is None:
            continue
        start = max(f.line, 1)
        diagnostic: dict[str, Any] = {
            "message": _message(f),
            "location": {
                "path": path,
                "range": {"start": {"line": start}, "end": {"line": max(f.end_line, start)}},
            },
            "severity": SEVERITY[f.severity],
            "source": {"name": TOOL_NAME},
        }
        rule = one_line(f.rule, 200)
        if rule:
            diagnostic["code"] = {"value": rule}
        out.append(diagnostic)
    return out


class RdjsonlAnnotator:
    name = "rdjsonl"
    default_stream = "stdout"

    def render(self, report: Report, ctx: RenderContext) -> str:
        return "".join(inert_json(json.dumps(d, ensure_ascii=True)) + "\n" for d in diagnostics(report, ctx))
