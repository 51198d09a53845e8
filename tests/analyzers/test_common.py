"""The analyzer family: Target, the registry and run_local_review's contract (never raises, changed lines only)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from symphony_assist_hooks import plugins
from symphony_assist_hooks.analyzers import run_local_review
from symphony_assist_hooks.analyzers.code_review import CodeReviewAnalyzer
from symphony_assist_hooks.analyzers.common import Analysis, Target, language_of
from symphony_assist_hooks.analyzers.security import SecurityAnalyzer
from symphony_assist_hooks.explainers import TestingAnalyzer
from symphony_assist_hooks.findings import Finding, Severity


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("pkg/mod.py", "python"),
        ("web/app.tsx", "typescript"),
        ("scripts/run.sh", "shell"),
        ("Dockerfile", "dockerfile"),
        (".env.production", "dotenv"),
        (".github/workflows/ci.yml", "yaml"),
        ("LICENSE", ""),
    ],
)
def test_language_comes_from_the_path(path: str, language: str) -> None:
    assert language_of(path) == language
    assert Target(path, "", frozenset()).language == language


def test_whole_file_marks_every_line_changed_and_anchor_finds_the_first_changed_line() -> None:
    whole = Target.whole_file("a.py", "x = 1\ny = 2\n")
    assert whole.changed_lines == {1, 2}
    partial = Target("a.py", "a\nb\nc\nd\n", frozenset({3}))
    assert partial.anchor(1, 4) == 3
    assert partial.anchor(1, 2) is None
    assert partial.line(3) == "c"
    assert partial.line(9) == ""


def test_builtin_analyzers_are_keyed_by_template() -> None:
    """The built-ins come from the same `register_analyzers` hook a plugin implements."""
    analyzers = plugins.analyzers()
    assert isinstance(analyzers["security"], SecurityAnalyzer)
    assert isinstance(analyzers["code_review"], CodeReviewAnalyzer)
    assert isinstance(analyzers["testing"], TestingAnalyzer)
    assert {a.name for a in analyzers.values()} == set(analyzers)


class _Plugin:
    """An extra analyzer as a plugin would write it: only `review`, no fingerprint, some lines unchanged."""

    name = "style"

    def review(self, targets: Sequence[Target]) -> list[Finding]:
        t = targets[0]
        return [
            Finding(t.path, line, line, Severity.LOW, "style/x", f"line {line}", source="api")
            for line in range(1, len(t.lines) + 1)
        ]


class _Crashing:
    name = "broken"

    def review(self, targets: Sequence[Target]) -> list[Finding]:
        raise RuntimeError("plugin bug")


class _Noticing:
    name = "noticing"

    def review(self, targets: Sequence[Target]) -> list[Finding]:
        return self.analyze(targets).findings

    def analyze(self, targets: Sequence[Target]) -> Analysis:
        return Analysis([], ["noticing: tool missing"])


def test_run_local_review_normalises_extra_findings_to_changed_lines() -> None:
    target = Target("a.py", "a = 1\nb = 2\nc = 3\n", frozenset({2}))
    findings, notices = run_local_review(["style"], [target], {"style": _Plugin()})
    assert notices == []
    assert [(f.line, f.source, f.template) for f in findings] == [(2, "local", "style")]
    assert len(findings[0].fingerprint) == 32


def test_run_local_review_never_raises_and_reports_notices() -> None:
    target = Target("a.py", "x = 1\n", frozenset({1}))
    findings, notices = run_local_review(
        ["broken", "noticing", "nonexistent", "testing"],
        [target],
        {"broken": _Crashing(), "noticing": _Noticing()},
    )
    assert findings == []
    assert "local analyzer 'broken' failed: RuntimeError: plugin bug" in notices
    assert "noticing: tool missing" in notices
    assert "no local analyzer for template 'nonexistent'" in notices
    assert not any("testing" in n for n in notices)  # a failure analyzer simply has nothing to say on a diff


def test_run_local_review_sorts_most_severe_first_and_deduplicates() -> None:
    text = "import subprocess\n\n\ndef f(x):\n    subprocess.call(x, shell=True)\n    breakpoint()\n"
    findings, _ = run_local_review(["security", "code_review", "security"], [Target.whole_file("m.py", text)])
    keys = [(f.path, f.line, f.rule) for f in findings]
    assert len(keys) == len(set(keys))
    assert [f.line for f in findings] == sorted(f.line for f in findings)
    assert {f.template for f in findings} == {"security", "code_review"}
    assert all(f.source == "local" and f.fingerprint for f in findings)
