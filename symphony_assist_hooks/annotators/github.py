"""GitHub Actions: workflow-command annotations in the log, a markdown report in the step summary.

The runner (actions/runner `ActionCommand.cs`) executes a log line as a command when, after
`TrimStart()`, it starts with `::` (V2) or — tried only if V2 fails — when it contains `##[`
anywhere (legacy). Model text is therefore never printed raw (docs/reference.md#output-escaping):

- In an annotation it is sanitized (no ANSI/OSC, controls, bidi) and escaped with the toolkit's
  exact rules (docs/reference.md#output-escaping), so it stays inside our one command line; `##[` is broken too.
- Free text (pytest explanations) is wrapped in `::stop-commands::<token>` … `::<token>::` with
  a random per-run token, and every line gets a `│ ` gutter so no line can start with `::`.

GitHub shows at most 10 errors, 10 warnings and 10 notices per step and 50 per job: the most
severe findings are annotated and one notice points to the job summary, which lists them all.
Severity: critical/high → error, medium → warning, low/info → notice.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..console import sanitize
from ..findings import Finding, Report, Severity
from .base import (
    DOTNET_WHITESPACE,
    GUTTER,
    RenderContext,
    clip,
    neutralize_line,
    one_line,
    relative_path,
    report_items,
    summary_line,
)
from .summary import render_summary

__all__ = [
    "KIND",
    "GithubAnnotator",
    "escape_data",
    "escape_property",
    "neutralize_line",
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


# The runner refuses these as stop tokens (ActionCommandManager.ValidateStopToken).
_RUNNER_COMMANDS = frozenset(
    {
        "set-env", "set-output", "save-state", "add-mask", "add-path", "add-matcher", "remove-matcher", "debug",
        "warning", "error", "notice", "group", "endgroup", "echo", "stop-commands", "pause-logging",
    }
)  # fmt: skip


def escape_data(s: str) -> str:
    """The message after `::` (`escapeData` in actions/toolkit): `%` first, then CR and LF."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    """A `key=value` value (`escapeProperty`): like data, plus `:` and `,`."""
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def workflow_command(
    kind: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    end_line: int | None = None,
    col: int | None = None,
    end_column: int | None = None,
    title: str | None = None,
) -> str:
    """One line `::kind k=v,…::message` that the runner parses back to exactly these values.

    The runner cannot carry every property value: it splits `k=v` with .NET's
    `Split('=', 2, RemoveEmptyEntries)`, which drops leading `=` from a value and drops empty
    values, and it trims the whole property list, which removes trailing whitespace from the last
    one. Values are normalised the same way here so what we emit is what GitHub shows.
    """
    props = [
        ("file", file),
        ("line", line),
        ("endLine", end_line),
        ("col", col),
        ("endColumn", end_column),
        ("title", title),
    ]
    present = [(k, str(v)) for k, v in props if v is not None]
    pairs = []
    for i, (key, raw) in enumerate(present):
        value = raw.rstrip(DOTNET_WHITESPACE) if i == len(present) - 1 else raw
        value = value.lstrip("=")
        if value:
            pairs.append(f"{key}={escape_property(value)}")
    body = ",".join(pairs)
    return f"::{kind}{' ' + body if body else ''}::{escape_data(message)}"


def stop_commands_block(text_lines: Sequence[str], token: str) -> list[str]:
    """Free text for the log: commands paused with `token`, every line guttered and neutralised."""
    if not token.isalnum() or not token.isascii() or token.lower() in _RUNNER_COMMANDS:
        raise ValueError(f"stop-commands token must be random ASCII letters/digits, not {token!r}")
    body = [GUTTER + _defang(sanitize(line, keep_newlines=False)) for line in text_lines]
    return [f"::stop-commands::{token}", *body, f"::{token}::"]


def _defang(s: str) -> str:
    return s.replace("##[", "## [")


def _annotation(f: Finding, ctx: RenderContext) -> str:
    rel = relative_path(f.path, ctx.workspace)
    file = one_line(rel, 1000) if rel else None
    title = _defang(one_line(f"[{f.rule}] {f.title}", 250))
    parts = [sanitize(f.message).strip() or one_line(f.title)]
    if f.suggestion.strip():
        parts.append("fix: " + sanitize(f.suggestion).strip())
    parts.append(f"({one_line(f.source, 20)})")
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
        lines += ["    " + ln for ln in sanitize(e.explanation).strip().splitlines()]
        if e.fix.strip():
            fix = sanitize(e.fix).strip().splitlines()
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
        lines.append(neutralize_line(summary_line(report)))
        return "\n".join(lines) + "\n"

    def render_summary(self, report: Report, ctx: RenderContext) -> str:
        return render_summary(report, ctx)
