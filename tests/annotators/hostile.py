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
    # separators other than \n: a tool that splits on them (str.splitlines) would start a new line
    "sep\u2028::add-mask::line-separator",
    "para\u2029  ::error file=x.py::paragraph-separator",
    "nel\x85::warning::next-line vt\x0b::notice::v ff\x0c::group::f fs\x1c::error::s",
    # removing an invisible character must never create a command
    "##\u200b[error]zero-width inside",
    "#\u200e#[add-mask]lrm inside",
    "\u061c::error::arabic letter mark first",
    "##\u061c[warning]arabic letter mark inside",
    "\ufeff::add-mask::bom first",
    "\u2066::stop-commands::isolate first",
    "##\x00[error]nul inside",
    "\x00::add-mask::nul first",
    f"{ESC}[0m::error::after a colour reset",
    f"{ESC}[2K\r::add-mask::cr and erase-line",
    "progress 50%\r##[error]cr overwrite",
    "\xa0\u3000::group::unicode spaces first",
    "%0A::error::%0D%0A##[error]%25 url-encoded",
    "::ERROR::upper-case name",
]
# A very long line with commands just after typical buffer sizes (a line is never split except on \n).
LONG_LINE = "".join(
    ("y" * (size - 7 * (i + 1))) + "::error::" + "##[warning]" for i, size in enumerate((1024, 4096, 8192, 65536))
)
HOSTILE = "\n".join(HOSTILE_LINES)
CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


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
