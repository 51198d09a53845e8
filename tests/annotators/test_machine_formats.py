"""gitlab (Code Quality), json (our document) and rdjsonl (reviewdog)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hostile import ESC, HOSTILE, hostile_pytest_report, hostile_report

from symphony_assist_hooks.annotators import emit
from symphony_assist_hooks.annotators.base import RenderContext
from symphony_assist_hooks.annotators.gitlab import GitlabAnnotator
from symphony_assist_hooks.annotators.jsonfmt import VERSION, JsonAnnotator, from_json
from symphony_assist_hooks.annotators.rdjsonl import RdjsonlAnnotator
from symphony_assist_hooks.errors import UsageError
from symphony_assist_hooks.findings import Explanation, Finding, Report, Severity
from symphony_assist_hooks.logsafe import clean as sanitize
from symphony_assist_hooks.plugins import annotators
from symphony_assist_hooks.terminal.console import Console

CTX = RenderContext(workspace=Path("/repo"))


def f(line: int = 3, severity: Severity = Severity.HIGH, **kw: Any) -> Finding:
    base: dict[str, Any] = {
        "path": "src/a.py",
        "end_line": line,
        "rule": "SA001",
        "title": "Possible bug",
        "message": "m",
    }
    base.update(kw)
    return Finding(line=line, severity=severity, **base)


# --- gitlab ------------------------------------------------------------------------------------


def gitlab(report: Report) -> list[dict[str, Any]]:
    issues = json.loads(GitlabAnnotator().render(report, CTX))
    assert isinstance(issues, list)
    return issues


def test_gitlab_required_fields() -> None:
    (issue,) = gitlab(Report(findings=(f(line=4, end_line=6),)))
    assert issue["description"] == "Possible bug: m (found by model: SA001)"
    assert issue["check_name"] == "symphony-assist/SA001"
    assert re.fullmatch(r"[0-9a-f]{32}", issue["fingerprint"])
    assert issue["severity"] == "critical"
    assert issue["location"] == {"path": "src/a.py", "lines": {"begin": 4, "end": 6}}


def test_gitlab_severity_mapping() -> None:
    issues = gitlab(Report(findings=tuple(f(line=i + 1, severity=s, rule=s.value) for i, s in enumerate(Severity))))
    got = {i["check_name"].split("/")[1]: i["severity"] for i in issues}
    assert got == {"critical": "blocker", "high": "critical", "medium": "major", "low": "minor", "info": "info"}
    assert set(got.values()) <= {"info", "minor", "major", "critical", "blocker"}


def test_gitlab_fingerprints_unique_even_for_identical_findings() -> None:
    same = f(fingerprint="x")
    issues = gitlab(Report(findings=(same, same, same, f(line=9), f(rule="other"))))
    fps = [i["fingerprint"] for i in issues]
    assert len(fps) == len(set(fps)) == 5


def test_gitlab_fingerprint_ignores_the_line_number() -> None:
    a = gitlab(Report(findings=(f(line=3, fingerprint="x"),)))[0]["fingerprint"]
    b = gitlab(Report(findings=(f(line=30, end_line=30, fingerprint="x"),)))[0]["fingerprint"]
    assert a == b


@pytest.mark.hardening_hostile_output
def test_gitlab_hostile_and_outside_paths() -> None:
    report = hostile_report(5)
    report = Report(findings=(*report.findings, f(path="../x.py"), f(path="/etc/x.py")))
    issues = gitlab(report)
    assert len(issues) == 5
    assert all("\n" not in i["description"] and ESC not in i["description"] for i in issues)


def test_gitlab_file_is_utf8_without_bom(tmp_path: Path) -> None:
    out = tmp_path / "gl.json"
    emit(Report(findings=(f(title="ünïcödé ✓"),)), [("gitlab", out)], CTX, Console(), annotators())
    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert "ünïcödé ✓".encode() in raw  # not \u-escaped


def test_gitlab_includes_located_explanations() -> None:
    (issue,) = gitlab(hostile_pytest_report())
    assert issue["location"]["path"] == "tests/test_x.py"


# --- json --------------------------------------------------------------------------------------


def full_report() -> Report:
    return Report(
        kind="review",
        findings=(
            f(fingerprint="fp1", suggestion="s", template="security", source="cache"),
            f(line=1, severity=Severity.LOW),
        ),
        explanations=(Explanation("t::a", "assertion", "why", "fix", "local", "t.py", 3),),
        hunks=5,
        files=2,
        cache_hits=3,
        api_requests=1,
        local_answers=1,
        prompt_tokens=100,
        completion_tokens=20,
        cost_usd=0.0123,
        saved_usd=0.5,
        redactions=2,
        dropped=1,
        suppressed=4,
        fallback_reason="budget",
        skipped={"binary": 2},
        notices=("note",),
    )


def test_json_round_trip() -> None:
    report = full_report()
    text = JsonAnnotator().render(report, CTX)
    doc = json.loads(text)
    assert doc["version"] == VERSION == 1 and doc["tool"] == "symphony-assist" and doc["kind"] == "review"
    assert doc["summary"]["by_severity"]["high"] == 1 and doc["summary"]["findings"] == 2
    back = from_json(text)
    # findings come back most severe first; everything else is identical
    assert back == Report(
        **{**report.__dict__, "findings": tuple(sorted(report.findings, key=lambda x: -x.severity.rank))}
    )


@pytest.mark.hardening_hostile_output
def test_json_text_is_sanitized_and_paths_relative() -> None:
    report = Report(findings=(f(path="/repo/x.py", message=HOSTILE),))
    doc = json.loads(JsonAnnotator().render(report, CTX))
    finding = doc["findings"][0]
    assert finding["path"] == "x.py"
    assert finding["message"] == sanitize(HOSTILE)
    assert ESC not in json.dumps(doc, ensure_ascii=False)


@pytest.mark.parametrize("text", ["", "[]", '{"version": 2}', '{"version": 1, "findings": [{"path": "a"}]}'])
@pytest.mark.hardening_hostile_output
def test_from_json_rejects_other_documents(text: str) -> None:
    with pytest.raises(UsageError, match="not a symphony-assist JSON report"):
        from_json(text)


# --- rdjsonl -----------------------------------------------------------------------------------


def test_rdjsonl_lines_parse_as_diagnostics() -> None:
    report = Report(
        findings=(f(line=4, end_line=6, suggestion="do x"), f(severity=Severity.MEDIUM), f(severity=Severity.INFO))
    )
    out = RdjsonlAnnotator().render(report, CTX)
    lines = out.split("\n")
    assert lines[-1] == ""
    diags = [json.loads(line) for line in lines[:-1]]
    assert [d["severity"] for d in diags] == ["ERROR", "WARNING", "INFO"]
    first = diags[0]
    assert first["location"] == {"path": "src/a.py", "range": {"start": {"line": 4}, "end": {"line": 6}}}
    assert first["source"] == {"name": "symphony-assist"} and first["code"] == {"value": "SA001"}
    assert "do x" in first["message"] and "suggestions" not in first


@pytest.mark.hardening_hostile_output
def test_rdjsonl_hostile_text_stays_on_one_line_per_diagnostic() -> None:
    report = Report(findings=(f(message=HOSTILE + "\u2028\u2029\x85"), f(path="../out.py")))
    out = RdjsonlAnnotator().render(report, CTX)
    assert out.isascii()
    assert len(out.splitlines()) == 1
    assert ESC not in json.loads(out)["message"]


def test_rdjsonl_empty_report_is_empty() -> None:
    assert RdjsonlAnnotator().render(Report(), CTX) == ""
