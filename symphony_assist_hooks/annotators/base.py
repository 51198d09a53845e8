"""The contract every output format keeps, and the helpers they share.

An annotator is a pure function from a `Report` to text: no I/O, no environment reads, no clock.
Everything that varies per run (colour, the workspace to make paths relative to, the random
stop-commands token, limits) arrives in a `RenderContext`, so a render is reproducible in a test.
Writing files and the step summary is `annotators.emit`'s job.
"""

from __future__ import annotations

import os
import posixpath
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

from .. import __version__
from ..findings import Explanation, Finding, Report, Severity
from ..logsafe import clean

__all__ = [
    "Annotator",
    "RenderContext",
    "StepSummaryAnnotator",
    "clip",
    "explanation_finding",
    "new_token",
    "one_line",
    "relative_path",
    "report_items",
    "severity_counts",
    "sort_key",
    "source_label",
    "sources_text",
    "summary_line",
]

TOOL_NAME = "symphony-assist"


class Annotator(Protocol):
    """One output format. `default_stream` is "stdout" or the file name used when no PATH is given."""

    name: str
    default_stream: str

    def render(self, report: Report, ctx: RenderContext) -> str:
        """The whole output for `report`: pure, deterministic for a given `ctx`."""
        ...


@runtime_checkable
class StepSummaryAnnotator(Protocol):
    """An annotator that also has markdown for `$GITHUB_STEP_SUMMARY` (appended by `emit`)."""

    def render_summary(self, report: Report, ctx: RenderContext) -> str: ...


def new_token() -> str:
    """A random stop-commands token: 32 hex digits, never a command name, never empty."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class RenderContext:
    """What a render may depend on besides the report.

    `workspace`: findings' absolute paths are made relative to it (GITHUB_WORKSPACE or the repo
    root); `token`: random per run, pauses workflow-command processing around free text;
    `step_summary`: where `emit` appends the github format's markdown; `category`: SARIF
    `automationDetails.id` (default `symphony-assist/<kind>/`); `compact`: one line per finding and no
    summary (the text format of a passing git hook, whose output pre-commit shows on every commit).
    """

    color: bool = False
    workspace: Path | None = None
    tool_version: str = __version__
    token: str = field(default_factory=new_token)
    step_summary: Path | None = None
    max_annotations_per_kind: int = 10
    max_annotations_total: int = 50
    summary_max_bytes: int = 512 * 1024
    category: str = ""
    compact: bool = False

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        color: bool = False,
        root: Path | None = None,
        category: str = "",
    ) -> RenderContext:
        """GITHUB_WORKSPACE (else `root`) and GITHUB_STEP_SUMMARY from the environment."""
        env = os.environ if environ is None else environ
        workspace = env.get("GITHUB_WORKSPACE") or (str(root) if root is not None else "")
        summary = env.get("GITHUB_STEP_SUMMARY") or ""
        return cls(
            color=color,
            workspace=Path(workspace) if workspace else None,
            step_summary=Path(summary) if summary else None,
            category=category,
        )


_DRIVE = re.compile(r"^[A-Za-z]:/")


def relative_path(path: str, workspace: Path | None) -> str | None:
    """`path` as a clean repo-relative POSIX path, or None when it is empty or leaves the repository.

    Backslashes count as separators, `.`/`..` are resolved lexically; an absolute path is kept only
    when it lies under `workspace`. Never returns an absolute path or one starting with `../`.
    """
    p = path.replace("\\", "/").strip()
    if not p:
        return None
    if p.startswith("/") or _DRIVE.match(p):
        if workspace is None:
            return None
        base = str(workspace).replace("\\", "/").rstrip("/") or "/"
        try:
            p = str(PurePosixPath(posixpath.normpath(p)).relative_to(posixpath.normpath(base)))
        except ValueError:
            return None
    p = posixpath.normpath(p)
    if p in (".", "..") or p.startswith("../") or p.startswith("/"):
        return None
    return p


def sort_key(f: Finding) -> tuple[int, str, int, str]:
    """Most severe first, then by place: the order annotations are cut by."""
    return (-f.severity.rank, f.path, f.line, f.rule)


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    counts = dict.fromkeys(Severity, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def one_line(text: str, limit: int = 500) -> str:
    """Untrusted text as one clean line: escapes and invisibles removed, whitespace collapsed.

    Clean, not yet inert: whatever prints it passes the final line through `logsafe.defuse`."""
    return clip(" ".join(clean(text, keep_newlines=False).split()), limit)


_SLUG = re.compile(r"[^a-z0-9._-]+")


def explanation_finding(e: Explanation) -> Finding | None:
    """A failing test's explanation as a finding at the test's location (None without a path).

    Severity HIGH: the test already fails the run, the explanation annotates that failure.
    """
    if not e.path:
        return None
    category = _SLUG.sub("-", one_line(e.category, 60).lower()).strip("-") or "failure"
    return Finding(
        path=e.path,
        line=max(e.line, 1),
        end_line=max(e.line, 1),
        severity=Severity.HIGH,
        rule=f"pytest/{category}",
        title=f"{one_line(e.test_id, 200)}: {category}",
        message=e.explanation,
        suggestion=e.fix,
        source=e.source,
        template="pytest",
    )


def report_items(report: Report) -> list[Finding]:
    """Findings plus located explanations, most severe first: what location-based formats show."""
    items = list(report.findings)
    items.extend(f for f in map(explanation_finding, report.explanations) if f is not None)
    return sorted(items, key=sort_key)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def source_label(f: Finding, limit: int = 160) -> str:
    """Where a finding came from, short: `local`, `api` or `cache` for one source (the rule is shown
    beside it), `local bandit/B602 + api shell-injection` for a finding merged from several."""
    origins = f.origins
    if len(origins) == 1:
        return one_line(f.source, 20)
    return one_line(" + ".join(f"{o.via or o.kind} {o.rule}" for o in origins), limit)


def sources_text(f: Finding, limit: int = 400) -> str:
    """Every source in words: `analyzer security: bandit/B602; model (security template): shell-injection`."""
    return one_line("; ".join(o.describe() for o in f.origins), limit)


def summary_line(report: Report) -> str:
    """The one-line tally every human-facing format ends with (already sanitized)."""
    counts = severity_counts(report.findings)
    by_sev = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    parts: list[str] = []
    if report.kind == "pytest":
        parts.append(_plural(len(report.explanations), "explanation"))
    if report.kind != "pytest" or report.findings:
        parts.append(_plural(len(report.findings), "finding") + (f" ({by_sev})" if by_sev else ""))
    tokens = report.prompt_tokens + report.completion_tokens
    parts += [
        f"{_plural(report.hunks, 'hunk')} reviewed",
        _plural(report.cache_hits, "cache hit"),
        _plural(report.api_requests, "API request"),
        _plural(tokens, "token"),
        f"cost ${report.cost_usd:.4f}",
        f"saved ${report.saved_usd:.4f}",
        _plural(report.redactions, "redaction"),
        f"{report.dropped:,} dropped",
        f"{report.suppressed:,} suppressed",
    ]
    skipped = sum(report.skipped.values())
    detail = ", ".join(f"{one_line(k, 40)} {v}" for k, v in sorted(report.skipped.items()) if v)
    parts.append(f"{skipped:,} skipped" + (f" ({detail})" if detail else ""))
    if report.fallback_reason:
        parts.append(f"fallback: {one_line(report.fallback_reason, 300)}")
    return "symphony-assist: " + " · ".join(parts)
