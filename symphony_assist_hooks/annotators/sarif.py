"""SARIF 2.1.0 for GitHub code scanning (`upload-sarif`) and any SARIF viewer (docs/reference.md#formats).

One run; `tool.driver` is symphony-assist with one rule per distinct finding rule. Each result:
`ruleId`/`ruleIndex`, `level` (critical/high → error, medium → warning, low/info → note),
`message.text` (title, message and fix, sanitized, brackets escaped so model text cannot make an
embedded link), one location with a repo-relative,
percent-encoded `artifactLocation.uri` under `%SRCROOT%` and a `region` of lines ≥ 1, and in its
property bag (SARIF §3.8, allowed on every result) `severity`, `source` (short) and `sources`: who
reported it, `[{kind: analyzer|model, name, rule, via}]`, two or more when analyzer and model agreed.

- Paths that are absolute outside the workspace or climb out of it (`../`) are never written: those
  results are dropped and a run-level notification says how many.
- `partialFingerprints.primaryLocationLineHash` is the finding's own fingerprint (path, rule and the
  normalised line text, so it survives edits elsewhere in the file) plus `:<occurrence>`. GitHub
  keeps a given hash; when it is absent (explanations have none) `upload-sarif` computes one from
  the checked-out source.
- GitHub rejects a whole file over its limits: at most 25,000 results (most severe kept) and
  25,000 rules per run; what is cut is reported in `invocations[0].toolExecutionNotifications`.
Pytest explanations with a location become results of rule `pytest/<category>`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..findings import Finding, Report, Severity
from ..logsafe import clean, inert_json
from . import markdown as md
from .base import TOOL_NAME, RenderContext, clip, one_line, relative_path, report_items, source_label

__all__ = ["LEVEL", "MAX_RESULTS", "MAX_RULES", "SCHEMA_URI", "SarifAnnotator", "to_sarif"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RESULTS = 25_000
MAX_RULES = 25_000
MAX_TAGS = 20
MESSAGE_LIMIT = 8000
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_PROBLEM = {"error": "error", "warning": "warning", "note": "recommendation"}
_LEVEL_RANK = {"note": 0, "warning": 1, "error": 2}


def _rule_id(f: Finding) -> str:
    return one_line(f.rule, 255) or TOOL_NAME


_BRACKET = re.compile(r"(\\*)([\[\]])")


def _no_links(text: str) -> str:
    """SARIF §3.11.6: `[text](target)` in message text is an embedded link (to a URI or a related
    location); literal brackets are written `\\[` `\\]` (a backslash before one is doubled)."""
    return _BRACKET.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), text)


def _message(f: Finding) -> str:
    parts = [one_line(f.title, 1000) or _rule_id(f)]
    if f.message.strip():
        parts.append(clean(f.message).strip())
    if f.suggestion.strip():
        parts.append("Fix: " + clean(f.suggestion).strip())
    return _no_links(clip("\n\n".join(parts), MESSAGE_LIMIT))


def _rule(rule_id: str, findings: list[Finding]) -> dict[str, Any]:
    level = max((LEVEL[f.severity] for f in findings), key=_LEVEL_RANK.__getitem__)
    templates = sorted({one_line(f.template, 50) for f in findings if f.template.strip()})
    ai = any(o.kind == "model" for f in findings for o in f.origins)
    origin = "an AI review" if ai else "a local analyzer"
    tags = [TOOL_NAME, "ai-review" if ai else "local-analyzer", *templates][:MAX_TAGS]
    return {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": clip(f"symphony-assist: {rule_id}", 1024)},
        "fullDescription": {
            "text": clip(
                f"Lines flagged as {rule_id} by {origin} of symphony-assist. Each result's message "
                "describes the specific problem and a suggested fix.",
                1024,
            )
        },
        "help": {
            "text": f"Read the result's message and fix the flagged lines. To accept a finding, add "
            f"`symphony-assist: ignore[{rule_id}]` in a comment on or above the line, or record it "
            "in the baseline.",
            "markdown": "Read the result's message and fix the flagged lines. To accept a finding, add "
            f"{md.code_span(f'symphony-assist: ignore[{rule_id}]', limit=400)} in a comment on or above "
            "the line, or record it in the baseline.",
        },
        "defaultConfiguration": {"level": level},
        "properties": {"tags": tags, "precision": "medium", "problem.severity": _PROBLEM[level]},
    }


def _path_bytes(path: str) -> bytes:
    """The file name's own bytes, so a name that is not UTF-8 (surrogateescape) percent-encodes as it is."""
    try:
        return path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate no file system name decodes to
        return path.encode("utf-8", "replace")


def _location(uri: str, f: Finding) -> dict[str, Any]:
    start = max(f.line, 1)
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": quote(_path_bytes(uri), safe="/"), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": start, "endLine": max(f.end_line, start)},
        }
    }


def _notification(level: str, text: str) -> dict[str, Any]:
    return {"level": level, "message": {"text": text}}


def to_sarif(report: Report, ctx: RenderContext) -> dict[str, Any]:
    """The SARIF log as a dict (see the module docstring for what goes where)."""
    located: list[tuple[str, Finding]] = []
    outside = 0
    for f in report_items(report):
        rel = relative_path(f.path, ctx.workspace)
        if rel is None:
            outside += 1
        else:
            located.append((rel, f))
    truncated = max(len(located) - MAX_RESULTS, 0)
    located = located[:MAX_RESULTS]

    by_rule: dict[str, list[Finding]] = {}
    for _, f in located:
        by_rule.setdefault(_rule_id(f), []).append(f)
    rule_ids = sorted(by_rule)
    if len(rule_ids) > MAX_RULES:  # only reachable if MAX_RULES < MAX_RESULTS
        keep = set(rule_ids[:MAX_RULES])
        truncated += sum(1 for _, f in located if _rule_id(f) not in keep)
        located = [(rel, f) for rel, f in located if _rule_id(f) in keep]
        rule_ids = rule_ids[:MAX_RULES]
    index = {rid: i for i, rid in enumerate(rule_ids)}

    results = []
    seen: dict[str, int] = {}
    for rel, f in located:
        rid = _rule_id(f)
        result: dict[str, Any] = {
            "ruleId": rid,
            "ruleIndex": index[rid],
            "level": LEVEL[f.severity],
            "message": {"text": _message(f)},
            "locations": [_location(rel, f)],
            "properties": {
                "severity": f.severity.value,
                "source": source_label(f),
                "sources": [{k: one_line(v, 200) for k, v in o.to_dict().items()} for o in f.origins],
            },
        }
        fp = one_line(f.fingerprint, 200)
        if fp:
            seen[fp] = seen.get(fp, 0) + 1
            result["partialFingerprints"] = {"primaryLocationLineHash": f"{fp}:{seen[fp]}"}
        results.append(result)

    notes = []
    if truncated:
        notes.append(
            _notification(
                "warning",
                f"{truncated} results left out: GitHub accepts at most "
                f"{MAX_RESULTS} results and {MAX_RULES} rules per run.",
            )
        )
    if outside:
        notes.append(_notification("warning", f"{outside} results left out: their path is outside the repository."))
    if report.fallback_reason:
        notes.append(_notification("note", "fallback: " + one_line(report.fallback_reason, 1000)))
    notes += [_notification("note", one_line(n, 1000) or "notice") for n in report.notices[:50]]

    kind = one_line(report.kind, 40) or "review"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "semanticVersion": ctx.tool_version,
                "version": ctx.tool_version,
                "rules": [_rule(rid, by_rule[rid]) for rid in rule_ids],
            }
        },
        "automationDetails": {"id": ctx.category or f"{TOOL_NAME}/{kind}/"},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notes}],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "kind": kind,
            "hunks": report.hunks,
            "cacheHits": report.cache_hits,
            "apiRequests": report.api_requests,
            "costUsd": round(report.cost_usd, 6),
            "suppressed": report.suppressed,
        },
    }
    if ctx.workspace is not None and Path(ctx.workspace).is_absolute():
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": Path(ctx.workspace).as_uri().rstrip("/") + "/"}}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


class SarifAnnotator:
    name = "sarif"
    default_stream = "symphony-assist.sarif"

    def render(self, report: Report, ctx: RenderContext) -> str:
        return inert_json(json.dumps(to_sarif(report, ctx), indent=2, ensure_ascii=False)) + "\n"
