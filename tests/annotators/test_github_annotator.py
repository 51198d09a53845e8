from __future__ import annotations

import re
from pathlib import Path

import pytest
from actions_runner import WS, executed, log_lines, parse, parse_v2
from hostile import CONTROL_CHARS, ESC, hostile_finding, hostile_pytest_report, hostile_report
from hypothesis import example, given, settings
from hypothesis import strategies as st

from symphony_assist_hooks.annotators.base import RenderContext
from symphony_assist_hooks.annotators.github import (
    GithubAnnotator,
    escape_data,
    escape_property,
    select,
    stop_commands_block,
    workflow_command,
)
from symphony_assist_hooks.findings import Finding, Report, Severity
from symphony_assist_hooks.logsafe import defuse as neutralize_line

pytestmark = pytest.mark.hardening_hostile_output

TOKEN = "0123456789abcdef0123456789abcdef"
CTX = RenderContext(token=TOKEN)


def finding(i: int, severity: Severity, path: str = "src/a.py") -> Finding:
    return Finding(path, i + 1, i + 1, severity, f"R{i:03}", f"title {i}", f"message {i}")


# --- escaping -----------------------------------------------------------------------------------


def test_conventions_example_is_byte_exact() -> None:
    line = workflow_command(
        "error", "100% wrong\nline2", file="src/a,b:c.py", line=3, end_line=5, title="LLM: possible bug, 50%"
    )
    assert line == (
        "::error file=src/a%2Cb%3Ac.py,line=3,endLine=5,title=LLM%3A possible bug%2C 50%25::100%25 wrong%0Aline2"
    )


def test_percent_is_escaped_first() -> None:
    assert escape_data("%0A\n") == "%250A%0A"
    assert escape_property("%3A:,\r") == "%253A%3A%2C%0D"
    assert escape_data("a:b,c") == "a:b,c"  # ':' and ',' stay literal in data


def expected_property(value: str, last: bool) -> str:
    """What the runner can carry (documented in workflow_command)."""
    if last:
        while value and value[-1] in WS:
            value = value[:-1]
    return value.lstrip("=")


@settings(max_examples=400, deadline=None)
@given(message=st.text(), title=st.text(), file=st.text())
@example(message="::add-mask::x\n::error::y", title="a,b:c=d", file="we,ird:name.py")
@example(message="%0A%25", title="==x ", file="=lead")
@example(message="", title=" ", file="\r\n")
def test_any_text_is_one_line_that_parses_back(message: str, title: str, file: str) -> None:
    line = workflow_command("warning", message, file=file, line=7, title=title)
    assert log_lines(line) == [line]
    cmd = parse(line)
    assert cmd is not None and not cmd.legacy
    assert cmd.name == "warning"
    assert cmd.data == message
    want = {"file": expected_property(file, False), "line": "7", "title": expected_property(title, True)}
    assert cmd.properties == {k: v for k, v in want.items() if v}


def test_weird_file_name_round_trips() -> None:
    cmd = parse_v2(workflow_command("error", "m", file="we,ird:name.py", line=1))
    assert cmd is not None
    assert cmd.properties == {"file": "we,ird:name.py", "line": "1"}


# --- neutralising free text --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    ["::error::x", "   ::add-mask::x", "\u3000::group::x", "a ##[error]b", "###[add-mask]x", "\u2028::error::x"],
)
def test_neutralized_lines_do_not_parse(line: str) -> None:
    assert parse(line) is not None
    assert parse(neutralize_line(line)) is None


def test_harmless_lines_are_left_alone() -> None:
    assert neutralize_line("just text: a::b") == "just text: a::b"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_no_neutralized_line_parses(text: str) -> None:
    for line in log_lines(text):
        assert parse(neutralize_line(line)) is None


def test_stop_commands_block_pauses_and_guards() -> None:
    block = stop_commands_block(["::add-mask::x", "##[error]y", "::" + TOKEN + "::"], TOKEN)
    assert block[0] == f"::stop-commands::{TOKEN}" and block[-1] == f"::{TOKEN}::"
    # even without the pause, no inner line would be a command
    assert all(parse(line) is None for line in block[1:-1])
    names = [c.name for c in executed("\n".join(block))]
    assert names == ["stop-commands"]


@pytest.mark.parametrize("token", ["", "error", "Echo", "abc def", "x::y", "ünï"])
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        stop_commands_block(["x"], token)


# --- the annotator on hostile model text ---------------------------------------------------------


def test_hostile_review_only_our_commands_run() -> None:
    report = hostile_report(6)
    out = GithubAnnotator().render(report, CTX)
    commands = executed(out)
    assert {c.name for c in commands} <= {"error", "warning", "notice"}
    assert len(commands) == 6
    for c in commands:
        assert ESC not in c.data and not CONTROL_CHARS.search(c.data.replace("\n", ""))
        assert "\x1b" not in c.properties.get("title", "")
        assert c.properties["file"] == "src/app.py"
    assert "add-mask" not in {c.name for c in commands}
    # every other line: not a command even if stop-commands were ignored
    ours = [line for line in log_lines(out) if line.startswith(("::error ", "::warning ", "::notice "))]
    assert len(ours) == 6
    assert all(parse(line) is None for line in log_lines(out) if line not in ours)


def test_hostile_pytest_text_is_wrapped_in_stop_commands() -> None:
    out = GithubAnnotator().render(hostile_pytest_report(), CTX)
    lines = log_lines(out)
    start, end = lines.index(f"::stop-commands::{TOKEN}"), lines.index(f"::{TOKEN}::")
    assert start < end
    inner = lines[start + 1 : end]
    assert inner and all(line.startswith("│ ") for line in inner)
    assert all(parse(line) is None for line in inner)
    assert not any(ESC in line or "\u202e" in line or "\x07" in line for line in lines)
    names = [c.name for c in executed(out)]
    assert names == ["error", "stop-commands"]  # the located explanation's annotation, then the pause


def test_severity_mapping() -> None:
    report = Report(findings=tuple(finding(i, s) for i, s in enumerate(Severity)))
    kinds = [c.name for c in executed(GithubAnnotator().render(report, CTX))]
    assert kinds == ["error", "error", "warning", "notice", "notice"]


def test_paths_relative_to_workspace(tmp_path: Path) -> None:
    inside = Finding(str(tmp_path / "pkg" / "m.py"), 3, 4, Severity.HIGH, "R", "t")
    outside = Finding("/elsewhere/x.py", 3, 3, Severity.HIGH, "R", "t")
    climbing = Finding("../x.py", 3, 3, Severity.HIGH, "R", "t")
    out = GithubAnnotator().render(
        Report(findings=(inside, outside, climbing)), RenderContext(workspace=tmp_path, token=TOKEN)
    )
    props = [c.properties for c in executed(out)]
    assert {"file": "pkg/m.py", "line": "3", "endLine": "4", "title": "[R] t"} in props
    assert sum("file" not in p and "line" not in p for p in props) == 2  # annotated on the job, not a file


def test_thirty_findings_at_most_ten_per_kind_and_all_in_summary() -> None:
    severities = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]
    findings = tuple(finding(i, severities[i % 5]) for i in range(30))
    report = Report(findings=findings)
    out = GithubAnnotator().render(report, CTX)
    commands = executed(out)
    per_kind = {k: sum(c.name == k for c in commands) for k in ("error", "warning", "notice")}
    assert all(n <= 10 for n in per_kind.values()), per_kind
    assert len(commands) <= 50
    more = [c for c in commands if "more findings" in c.data]
    assert len(more) == 1 and "file" not in more[0].properties
    shown = len(commands) - 1
    assert more[0].data.startswith(f"{30 - shown} more findings")
    # the most severe are the ones shown: all 12 criticals+highs can't fit in 10 errors
    errors = [c for c in commands if c.name == "error"]
    assert len(errors) == 10
    summary = GithubAnnotator().render_summary(report, CTX)
    for i in range(30):
        assert f"title {i}" in summary


def test_select_keeps_most_severe_and_reserves_a_notice_slot() -> None:
    items = [finding(i, Severity.LOW) for i in range(12)]
    shown, hidden = select(items, per_kind=10, total=50)
    assert len(shown) == 9 and hidden == 3  # 9 notices + the "3 more" notice = 10
    shown, hidden = select(items[:10], per_kind=10, total=50)
    assert len(shown) == 10 and hidden == 0


def test_total_cap_applies() -> None:
    items = [finding(i, s) for i, s in enumerate([Severity.HIGH] * 10 + [Severity.MEDIUM] * 10)]
    shown, hidden = select(items, per_kind=10, total=15)
    assert len(shown) == 14 and hidden == 6


def test_empty_report_prints_only_the_tally() -> None:
    out = GithubAnnotator().render(Report(), CTX)
    assert executed(out) == []
    assert out.startswith("symphony-assist: 0 findings")


def test_long_messages_are_clipped_to_one_line() -> None:
    f = Finding("a.py", 1, 1, Severity.HIGH, "R", "t", "x\n" * 10_000)
    out = GithubAnnotator().render(Report(findings=(f,)), CTX)
    (cmd,) = executed(out)
    assert len(cmd.data) <= 4000
    assert len(log_lines(out)) == 3  # annotation, tally, trailing empty


def test_title_cannot_inject_properties() -> None:
    f = Finding("a.py", 1, 1, Severity.HIGH, "R", "x,file=evil.py,line=99::data")
    (cmd,) = executed(GithubAnnotator().render(Report(findings=(f,)), CTX))
    assert cmd.properties["file"] == "a.py" and cmd.properties["line"] == "1"
    assert cmd.properties["title"] == "[R] x,file=evil.py,line=99::data"


def test_no_ansi_anywhere_in_the_log() -> None:
    out = GithubAnnotator().render(hostile_report(6), CTX)
    assert not re.search("[\x1b\x9b\x07\u202a-\u202e\u2066-\u2069]", out)
    finding_text = hostile_finding(0).message
    assert ESC in finding_text  # the corpus really is hostile
