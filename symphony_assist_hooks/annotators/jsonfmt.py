"""Our own stable JSON document (format name `json`). Version 1:

```
{
  "version": 1,                  integer; bumped only on an incompatible change
  "tool": "symphony-assist",
  "tool_version": "0.1.0",
  "kind": "review" | "pytest",
  "summary": {
    "findings": int, "by_severity": {"critical": int, "high": int, "medium": int, "low": int, "info": int},
    "explanations": int, "hunks": int, "files": int, "cache_hits": int, "api_requests": int,
    "local_answers": int, "prompt_tokens": int, "completion_tokens": int,
    "cost_usd": float, "saved_usd": float, "redactions": int, "dropped": int, "suppressed": int,
    "skipped": {reason: int}, "fallback_reason": str | null, "notices": [str]
  },
  "findings": [                  most severe first
    {"path", "line", "end_line", "severity", "rule", "title", "message", "suggestion",
     "source": "api" | "cache" | "local", "template", "fingerprint",
     "sources": [{"kind": "analyzer" | "model", "name": analyzer or template name, "rule",
                  "via": "api" | "cache" | "local"}]}     who reported it: two or more when merged
  ],
  "explanations": [
    {"test_id", "category", "explanation", "fix", "source", "path", "line"}
  ]
}
```
Paths are made relative to the workspace when they lie under it, and otherwise kept exact (a
consumer needs the real file name). Text fields are sanitized (no terminal escapes or control
characters; newlines kept), so a consumer may print them.
New fields may be added within version 1; `from_json` ignores what it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import UsageError
from ..findings import Explanation, Finding, Report
from ..logsafe import clean, inert_json
from .base import TOOL_NAME, RenderContext, relative_path, severity_counts, sort_key

__all__ = ["VERSION", "JsonAnnotator", "from_json", "to_document"]

VERSION = 1
_SUMMARY_INTS = (
    "hunks", "files", "cache_hits", "api_requests", "local_answers", "prompt_tokens", "completion_tokens",
    "redactions", "dropped", "suppressed",
)  # fmt: skip


def _clean_finding(f: Finding, ctx: RenderContext) -> dict[str, Any]:
    d = f.to_dict()
    for key in ("rule", "title", "message", "suggestion", "source", "template", "fingerprint"):
        d[key] = clean(d[key])
    d["path"] = relative_path(f.path, ctx.workspace) or f.path
    d["sources"] = [{k: clean(v) for k, v in o.items()} for o in d["sources"]]
    return d


def _clean_explanation(e: Explanation, ctx: RenderContext) -> dict[str, Any]:
    d = e.to_dict()
    for key in ("test_id", "category", "explanation", "fix", "source"):
        d[key] = clean(d[key])
    if e.path:
        d["path"] = relative_path(e.path, ctx.workspace) or e.path
    return d


def to_document(report: Report, ctx: RenderContext) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "findings": len(report.findings),
        "by_severity": {s.value: n for s, n in severity_counts(report.findings).items()},
        "explanations": len(report.explanations),
    }
    summary.update({key: getattr(report, key) for key in _SUMMARY_INTS})
    summary.update(
        cost_usd=report.cost_usd,
        saved_usd=report.saved_usd,
        skipped={clean(k): v for k, v in sorted(report.skipped.items())},
        fallback_reason=clean(report.fallback_reason) if report.fallback_reason else None,
        notices=[clean(n) for n in report.notices],
    )
    return {
        "version": VERSION,
        "tool": TOOL_NAME,
        "tool_version": ctx.tool_version,
        "kind": clean(report.kind),
        "summary": summary,
        "findings": [_clean_finding(f, ctx) for f in sorted(report.findings, key=sort_key)],
        "explanations": [_clean_explanation(e, ctx) for e in report.explanations],
    }


def from_json(text: str) -> Report:
    """A `Report` back from a version-1 document (for re-rendering a saved run in another format)."""
    try:
        doc = json.loads(text)
        if not isinstance(doc, Mapping) or doc.get("version") != VERSION:
            raise ValueError(f"expected a version {VERSION} document")
        summary: Mapping[str, Any] = doc.get("summary") or {}
        fields: dict[str, Any] = {key: int(summary.get(key) or 0) for key in _SUMMARY_INTS}
        return Report(
            kind=str(doc.get("kind") or "review"),
            findings=tuple(Finding.from_dict(d) for d in doc.get("findings") or ()),
            explanations=tuple(
                Explanation(**{k: d[k] for k in Explanation.__dataclass_fields__ if k in d})
                for d in doc.get("explanations") or ()
            ),
            cost_usd=float(summary.get("cost_usd") or 0.0),
            saved_usd=float(summary.get("saved_usd") or 0.0),
            skipped={str(k): int(v) for k, v in (summary.get("skipped") or {}).items()},
            fallback_reason=summary.get("fallback_reason") or None,
            notices=tuple(str(n) for n in summary.get("notices") or ()),
            **fields,
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"not a symphony-assist JSON report: {exc}; produce one with --format json") from exc


class JsonAnnotator:
    name = "json"
    default_stream = "stdout"

    def render(self, report: Report, ctx: RenderContext) -> str:
        return inert_json(json.dumps(to_document(report, ctx), indent=2, ensure_ascii=False)) + "\n"
