"""Scoring: each case's verdicts, then the figures overall, per family, per template and per category."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..families import category_of, family_of
from ..findings import Explanation, Finding
from .cases import Case

__all__ = ["details", "score_diff", "score_failure", "summarize"]

_WORST = 10


def score_diff(case: Case, findings: Sequence[Finding]) -> dict[str, Any]:
    """One diff case's verdicts: each finding tp / fp / allowed, each expectation found or missed."""
    found_by: list[set[str]] = [set() for _ in case.expect]
    rows = []
    for f in findings:
        family = family_of(f.rule)
        hits = [i for i, span in enumerate(case.expect) if span.matches(f, family)]
        for i in hits:
            found_by[i].add(f.template)
        allowed = not hits and any(span.matches(f, family) for span in case.allow)
        verdict = "tp" if hits else "allowed" if allowed else "fp"
        rows.append(
            {
                "path": f.path,
                "line": f.line,
                "end_line": f.end_line,
                "rule": f.rule,
                "family": family,
                "severity": f.severity.value,
                "template": f.template,
                "source": f.source,
                "verdict": verdict,
            }
        )
    expected = [
        {"path": s.path, "lines": [s.start, s.end], "family": s.family, "found": bool(by), "found_by": sorted(by)}
        for s, by in zip(case.expect, found_by, strict=True)
    ]
    missed = sum(not e["found"] for e in expected)
    false_positives = sum(r["verdict"] == "fp" for r in rows)
    return {
        "id": case.id,
        "kind": "diff",
        "about": case.about,
        "clean": not case.expect,
        "passed": not missed and not false_positives,
        "errors": missed + false_positives,
        "missed": missed,
        "false_positives": false_positives,
        "expected": expected,
        "findings": rows,
    }


def score_failure(case: Case, explanation: Explanation) -> dict[str, Any]:
    """One failing test's verdict: is the answer's category (mapped) one of the expected ones?"""
    got = category_of(explanation.category)
    passed = got in case.categories
    return {
        "id": case.id,
        "kind": "failure",
        "about": case.about,
        "passed": passed,
        "errors": 0 if passed else 1,
        "expected_category": list(case.categories),
        "category": got,
        "answer": explanation.category,
        "source": explanation.source,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _f1(precision: float | None, recall: float | None) -> float | None:
    if not precision or not recall:
        return None if precision is None or recall is None else 0.0
    return round(2 * precision * recall / (precision + recall), 4)


def summarize(cases: Sequence[Mapping[str, Any]], usage: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The result document from scored cases: figures overall, per family, per template, per category."""
    diffs = [c for c in cases if c["kind"] == "diff"]
    failing = [c for c in cases if c["kind"] == "failure"]
    clean = [c for c in diffs if c["clean"]]
    rows = [r for c in diffs for r in c["findings"]]
    expected = [e for c in diffs for e in c["expected"]]
    tp = sum(r["verdict"] == "tp" for r in rows)
    fp = sum(r["verdict"] == "fp" for r in rows)
    found = sum(e["found"] for e in expected)
    correct = sum(c["passed"] for c in failing)
    precision, recall = _ratio(tp, tp + fp), _ratio(found, len(expected))
    fp_clean = sum(c["false_positives"] for c in clean)
    figures = {
        "cases": len(cases),
        "passed": sum(c["passed"] for c in cases),
        "diff_cases": len(diffs),
        "clean_cases": len(clean),
        "failure_cases": len(failing),
        "expected": len(expected),
        "found": found,
        "missed": len(expected) - found,
        "findings": tp + fp,
        "true_positives": tp,
        "false_positives": fp,
        "allowed": sum(r["verdict"] == "allowed" for r in rows),
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "clean_quiet": sum(c["false_positives"] == 0 for c in clean),
        "fp_on_clean": fp_clean,
        "fp_per_clean": _ratio(fp_clean, len(clean)),
        "failures_correct": correct,
        "failure_accuracy": _ratio(correct, len(failing)),
    }
    return {
        **meta,
        "figures": figures,
        "families": _families(rows, expected),
        "templates": _templates(rows, expected, failing, meta),
        "categories": _categories(failing),
        "usage": dict(usage),
        "worst": _worst(cases),
        "cases": list(cases),
    }


def _families(rows: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    names = sorted({r["family"] for r in rows if r["verdict"] != "allowed"} | {e["family"] for e in expected})
    out = {}
    for name in names:
        exp = [e for e in expected if e["family"] == name]
        mine = [r for r in rows if r["family"] == name]
        tp = sum(r["verdict"] == "tp" for r in mine)
        fp = sum(r["verdict"] == "fp" for r in mine)
        found = sum(e["found"] for e in exp)
        out[name] = {
            "expected": len(exp),
            "found": found,
            "recall": _ratio(found, len(exp)),
            "findings": tp + fp,
            "true_positives": tp,
            "false_positives": fp,
            "precision": _ratio(tp, tp + fp),
        }
    return out


def _templates(
    rows: Sequence[Mapping[str, Any]],
    expected: Sequence[Mapping[str, Any]],
    failing: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = list(meta.get("review_templates") or []) if rows or expected else []
    for name in names + sorted({str(r["template"]) for r in rows} - set(names)):
        mine = [r for r in rows if r["template"] == name]
        tp = sum(r["verdict"] == "tp" for r in mine)
        fp = sum(r["verdict"] == "fp" for r in mine)
        found = sum(name in e["found_by"] for e in expected)
        out[name] = {
            "findings": tp + fp,
            "true_positives": tp,
            "false_positives": fp,
            "precision": _ratio(tp, tp + fp),
            "found": found,
            "recall": _ratio(found, len(expected)),
        }
    explain = meta.get("explain_template")
    if failing and explain:
        correct = sum(c["passed"] for c in failing)
        out[str(explain)] = {"cases": len(failing), "correct": correct, "accuracy": _ratio(correct, len(failing))}
    return out


def _categories(failing: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out = {}
    for name in sorted({c["expected_category"][0] for c in failing}):
        mine = [c for c in failing if c["expected_category"][0] == name]
        correct = sum(c["passed"] for c in mine)
        answers: dict[str, int] = {}
        for c in mine:
            answers[c["category"]] = answers.get(c["category"], 0) + 1
        out[name] = {
            "cases": len(mine),
            "correct": correct,
            "accuracy": _ratio(correct, len(mine)),
            "answers": dict(sorted(answers.items())),
        }
    return out


def details(case: Mapping[str, Any]) -> list[str]:
    if case["kind"] == "failure":
        wanted = " or ".join(case["expected_category"])
        return [f"answered {case['category']} ({case['answer']}), expected {wanted}"]
    out = []
    for e in case["expected"]:
        if not e["found"]:
            start, end = e["lines"]
            out.append(f"missed {e['family']} at {e['path']}:{start if start == end else f'{start}-{end}'}")
    for r in case["findings"]:
        if r["verdict"] == "fp":
            out.append(f"false positive {r['family']} ({r['rule']}) at {r['path']}:{r['line']}")
    return out


def _worst(cases: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    bad = sorted((c for c in cases if c["errors"]), key=lambda c: (-int(c["errors"]), str(c["id"])))
    return [{"id": c["id"], "kind": c["kind"], "errors": c["errors"], "details": details(c)} for c in bad[:_WORST]]
