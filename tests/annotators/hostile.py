"""Model output written by an attacker (docs/reference.md#output-escaping), and reports made of it."""

from __future__ import annotations

import re

from symphony_assist_hooks.findings import Explanation, Finding, Report, Severity

ESC = "\x1b"
HOSTILE_LINES = [
    "::add-mask::hunter2",
    "  ::error file=x.py,line=1::fake finding",
    "\t::stop-commands::abc",
    "::set-output name=x::y",
    "::group::owned",
    "%0A::warning::escaped newline",
    "line one\r::notice::after a carriage return",
    "see ##[add-mask]hunter2 here",
    "##[error]legacy error",
    "###[warning]triple hash",
    f"{ESC}[2J{ESC}[1A clear screen",
    f"{ESC}]8;;http://x{ESC}\\click{ESC}]8;;{ESC}\\",
    f"{ESC}]52;c;ZWNobyBwd25lZA=={chr(7)} clipboard",
    f"{ESC}]0;title{chr(7)} \x9b31m c1 csi",
    "bidi \u202eevil\u202c \u2066isolate\u2069 \u200bzero-width",
    "[x](http://evil) ![img](http://evil/p.png) <img src=x onerror=alert(1)> <script>alert(1)</script>",
    "@everyone @octocat please look, mail me@evil.example, www.evil.example, #123",
    "| table | breakers | \\| `code` ``` fence",
    "&lt;b&gt; &#64;everyone <!-- hidden --> <details open>",
    "$x^2$ and **bold** _em_ `tick",
]
HOSTILE = "\n".join(HOSTILE_LINES)
CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_finding(i: int = 0, severity: Severity = Severity.HIGH, path: str = "src/app.py") -> Finding:
    return Finding(
        path=path,
        line=10 + i,
        end_line=12 + i,
        severity=severity,
        rule="sql-injection",
        title=f"{HOSTILE_LINES[i % len(HOSTILE_LINES)]} ::error::x ##[add-mask]t",
        message=HOSTILE,
        suggestion=HOSTILE,
        source="api",
        template="security",
        fingerprint=f"{i:032x}",
    )


def hostile_report(n: int = 6) -> Report:
    severities = list(Severity)
    return Report(
        kind="review",
        findings=tuple(hostile_finding(i, severities[i % len(severities)]) for i in range(n)),
        hunks=4,
        fallback_reason=HOSTILE,
        notices=(HOSTILE,),
        skipped={"##[error]x": 1},
    )


def hostile_pytest_report() -> Report:
    return Report(
        kind="pytest",
        explanations=(
            Explanation(
                test_id="tests/test_x.py::test_a[::error::p]",
                category="assertion ##[warning]c",
                explanation=HOSTILE,
                fix=HOSTILE,
                path="tests/test_x.py",
                line=3,
            ),
            Explanation(test_id="tests/test_y.py::test_b", category="import", explanation=HOSTILE, fix=""),
        ),
    )
