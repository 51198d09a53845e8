from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from actions_runner import log_lines, parse
from hostile import HOSTILE, hostile_pytest_report, hostile_report

from symphony_assist_hooks.annotators import emit
from symphony_assist_hooks.annotators.base import RenderContext
from symphony_assist_hooks.annotators.text import TextAnnotator
from symphony_assist_hooks.findings import Explanation, Finding, Report, Severity
from symphony_assist_hooks.plugins import annotators
from symphony_assist_hooks.terminal.console import Console, use_color

ESCAPES = re.compile("[\x1b\x9b\x07\u202a-\u202e\u2066-\u2069\u200b-\u200f]")


def report() -> Report:
    return Report(
        findings=(
            Finding("src/b.py", 7, 7, Severity.MEDIUM, "naming", "Unclear name", source="local"),
            Finding(
                "src/a.py", 12, 14, Severity.HIGH, "sql-injection", "Query built from input",
                "`name` is interpolated\ninto the SQL.", "Pass it as a parameter.", source="api",
            ),
            Finding("src/a.py", 3, 3, Severity.LOW, "style", "Long line", source="cache"),
        ),
        hunks=3, cache_hits=1, api_requests=1, prompt_tokens=1200, completion_tokens=34, cost_usd=0.00123,
        saved_usd=0.0004, redactions=2, dropped=1, suppressed=2, skipped={"binary": 1, "too-large": 2},
        fallback_reason="monthly budget spent",
    )  # fmt: skip


GOLDEN = """\
src/a.py:3: low [style] Long line (cache)
src/a.py:12: high [sql-injection] Query built from input (api)
    `name` is interpolated
    into the SQL.
    fix: Pass it as a parameter.

src/b.py:7: medium [naming] Unclear name (local)

symphony-assist: 3 findings (1 high, 1 medium, 1 low) · 3 hunks reviewed · 1 cache hit · 1 API request \
· 1,234 tokens · cost $0.0012 · saved $0.0004 · 2 redactions · 1 dropped · 2 suppressed \
· 3 skipped (binary 1, too-large 2) · fallback: monthly budget spent
"""


def test_golden_without_colour() -> None:
    assert TextAnnotator().render(report(), RenderContext(color=False)) == GOLDEN


def test_colour_only_on_the_severity() -> None:
    out = TextAnnotator().render(report(), RenderContext(color=True))
    assert "\x1b[31mhigh\x1b[0m" in out and "\x1b[33mmedium\x1b[0m" in out
    assert re.sub(r"\x1b\[[0-9;]*m", "", out) == GOLDEN


@pytest.mark.hardening_hostile_output
def test_no_color_env_means_no_escape_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    console = Console(out=stream)
    emit(report(), [("text", None)], RenderContext(color=use_color(stream)), console, annotators())
    assert "\x1b" not in stream.getvalue()
    assert stream.getvalue() == GOLDEN


def test_empty_report_is_just_the_tally() -> None:
    out = TextAnnotator().render(Report(), RenderContext())
    assert out.startswith("symphony-assist: 0 findings · 0 hunks reviewed") and out.count("\n") == 1
    assert "cost $0.0000" in out and "fallback" not in out


@pytest.mark.hardening_hostile_output
def test_hostile_text_is_sanitized_and_cannot_drive_the_runner() -> None:
    out = TextAnnotator().render(hostile_report(6), RenderContext(color=True))
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)  # our own colours
    assert not ESCAPES.search(plain)
    assert "\r" not in out
    assert all(parse(line) is None for line in log_lines(out))


def test_pytest_report_lists_explanations() -> None:
    rep = Report(
        kind="pytest",
        explanations=(
            Explanation("tests/t.py::test_a", "assertion", "The expected value is off by one.", "Use <=.", "api"),
            Explanation("tests/t.py::test_b", "import", "Module missing.", "", "local"),
        ),
        api_requests=1,
    )
    out = TextAnnotator().render(rep, RenderContext())
    assert out.splitlines()[:7] == [
        "tests/t.py::test_a: [assertion] (api)",
        "    The expected value is off by one.",
        "    fix: Use <=.",
        "",
        "tests/t.py::test_b: [import] (local)",
        "    Module missing.",
        "",
    ]
    assert out.splitlines()[-1].startswith("symphony-assist: 2 explanations · 0 hunks reviewed")


@pytest.mark.hardening_hostile_output
def test_hostile_pytest_report() -> None:
    out = TextAnnotator().render(hostile_pytest_report(), RenderContext())
    assert not ESCAPES.search(out)
    assert all(parse(line) is None for line in log_lines(out))
    assert "##[" not in out


def test_paths_relative_to_workspace(tmp_path: Path) -> None:
    rep = Report(findings=(Finding(str(tmp_path / "x.py"), 2, 2, Severity.INFO, "r", "t"),))
    out = TextAnnotator().render(rep, RenderContext(workspace=tmp_path))
    assert out.startswith("x.py:2: info [r] t (api)")


def test_multiline_fix_is_indented_under_its_label() -> None:
    rep = Report(findings=(Finding("a.py", 1, 1, Severity.HIGH, "r", "t", "", "one\ntwo\n\nthree"),))
    lines = TextAnnotator().render(rep, RenderContext()).splitlines()
    assert lines[1:5] == ["    fix: one", "         two", "", "         three"]


@pytest.mark.hardening_hostile_output
def test_message_cannot_fake_a_finding_line() -> None:
    rep = Report(findings=(Finding("a.py", 1, 1, Severity.LOW, "r", "t", "src/x.py:1: critical [x] fake\n" + HOSTILE),))
    lines = TextAnnotator().render(rep, RenderContext()).splitlines()
    assert lines[1] == "    src/x.py:1: critical [x] fake"  # indented: never at the start of a line


@pytest.mark.hardening_hostile_output
def test_file_names_are_sanitized_too() -> None:
    rep = Report(findings=(Finding("src/evil\x1b]8;;http://x\x07\u202e.py", 1, 1, Severity.LOW, "r", "t"),))
    out = TextAnnotator().render(rep, RenderContext())
    assert out.startswith("src/evil.py:1: low [r] t (api)")


def test_compact_is_one_line_per_finding_low_and_above_and_empty_when_none() -> None:
    from dataclasses import replace

    from symphony_assist_hooks.findings import Origin

    merged = Finding(
        "src/c.py", 5, 5, Severity.MEDIUM, "bandit/B301", "unsafe deserialisation", "long text", "fix it",
        source="local", sources=(Origin("analyzer", "security", "bandit/B301", "local"),
                                 Origin("model", "security", "pickle-load", "api")),
    )  # fmt: skip
    note = Finding("src/c.py", 1, 1, Severity.INFO, "review", "looks fine", source="api")
    ctx = RenderContext(compact=True)
    out = TextAnnotator().render(replace(report(), findings=(*report().findings, merged, note)), ctx)
    assert out.splitlines() == [
        "src/a.py:3: low [style] Long line (cache)",
        "src/a.py:12: high [sql-injection] Query built from input (api)",
        "src/b.py:7: medium [naming] Unclear name (local)",
        "src/c.py:5: medium [bandit/B301] unsafe deserialisation (local bandit/B301 + api pickle-load)",
    ]
    assert TextAnnotator().render(Report(findings=(note,), hunks=2), ctx) == ""
