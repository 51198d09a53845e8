"""GitLab Code Quality report: a JSON array of Code Climate issues (docs/reference.md#formats).

Each issue has `description` (title and message on one line, then who found it), `check_name`
(`symphony-assist/<rule>`), `fingerprint`, `severity`, and `location.path` +
`location.lines.begin`/`end`. Written as UTF-8 without a byte-order mark (GitLab's parser refuses
one); `emit` writes it to `gl-code-quality-report.json` unless a PATH is given.

Severity: the five levels map one to one, keeping their order —
critical → blocker, high → critical, medium → major, low → minor, info → info.

Fingerprint: MD5 (hex) of check name, path, the finding's own fingerprint (which hashes the
normalised line text, not its number) and the normalised title and message, so it survives edits
elsewhere in the file; a repeat within one report gets `#2`, `#3` … folded in, so each is unique
(GitLab collapses equal fingerprints into one entry). Findings whose path leaves the repository
are left out: GitLab could not place them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..findings import Finding, Report, Severity
from ..logsafe import inert_json
from .base import TOOL_NAME, RenderContext, one_line, relative_path, report_items, sources_text

__all__ = ["SEVERITY", "GitlabAnnotator", "to_code_quality"]

SEVERITY = {
    Severity.CRITICAL: "blocker",
    Severity.HIGH: "critical",
    Severity.MEDIUM: "major",
    Severity.LOW: "minor",
    Severity.INFO: "info",
}


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "replace"), usedforsecurity=False).hexdigest()


def _description(f: Finding) -> str:
    title = one_line(f.title, 300)
    message = one_line(f.message, 1500)
    text = f"{title}: {message}" if message else (title or one_line(f.rule, 100))
    return f"{text} (found by {sources_text(f)})"


def to_code_quality(report: Report, ctx: RenderContext) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    used: set[str] = set()
    for f in report_items(report):
        path = relative_path(f.path, ctx.workspace)
        if path is None:
            continue
        check = f"{TOOL_NAME}/{one_line(f.rule, 200) or 'finding'}"
        basis = "\0".join((check, path, f.fingerprint, _norm(f.title), _norm(f.message)))
        digest, n = _md5(basis), 1
        while digest in used:
            n += 1
            digest = _md5(f"{basis}\0#{n}")
        used.add(digest)
        begin = max(f.line, 1)
        issues.append(
            {
                "description": _description(f),
                "check_name": check,
                "fingerprint": digest,
                "severity": SEVERITY[f.severity],
                "location": {"path": path, "lines": {"begin": begin, "end": max(f.end_line, begin)}},
            }
        )
    return issues


class GitlabAnnotator:
    name = "gitlab"
    default_stream = "gl-code-quality-report.json"

    def render(self, report: Report, ctx: RenderContext) -> str:
        return inert_json(json.dumps(to_code_quality(report, ctx), indent=2, ensure_ascii=False)) + "\n"
