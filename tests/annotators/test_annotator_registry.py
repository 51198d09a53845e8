from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from actions_runner import executed

from symphony_assist_hooks.annotators import emit, get_annotator, parse_format_args
from symphony_assist_hooks.annotators.base import Annotator, RenderContext, new_token
from symphony_assist_hooks.errors import UsageError
from symphony_assist_hooks.findings import Finding, Report, Severity
from symphony_assist_hooks.plugins import annotators
from symphony_assist_hooks.terminal.console import Console

REPORT = Report(findings=(Finding("a.py", 1, 1, Severity.HIGH, "R", "title", "msg"),))


class Upper:
    """A plugin-provided format: anything with name, default_stream and render."""

    name = "upper"
    default_stream = "stdout"

    def render(self, report: Report, ctx: RenderContext) -> str:
        return "\n".join(f.title.upper() for f in report.findings) + "\n"


def console() -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(out=out, err=err, color="never"), out, err


def test_builtin_names() -> None:
    """The built-in formats come from the same `register_annotators` hook a plugin implements."""
    assert sorted(annotators()) == ["github", "gitlab", "json", "rdjsonl", "sarif", "text"]
    for name, annotator in annotators().items():
        assert annotator.name == name
        assert annotator.default_stream
        assert isinstance(annotator.render(Report(), RenderContext()), str)


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown output format 'xml'.*github, gitlab, json, rdjsonl, sarif, text"):
        get_annotator("xml", annotators())


def test_names_are_case_insensitive_and_extras_are_accepted() -> None:
    assert get_annotator(" SARIF ", annotators()).name == "sarif"
    extra: dict[str, Annotator] = annotators() | {"Upper": Upper()}
    assert isinstance(get_annotator("upper", extra), Upper)
    with pytest.raises(UsageError, match="upper"):
        get_annotator("nope", extra)


def test_a_plugin_may_replace_a_builtin() -> None:
    replacement = Upper()
    assert get_annotator("text", annotators() | {"text": replacement}) is replacement


def test_parse_format_args() -> None:
    assert parse_format_args(["text", "sarif=out/r.sarif", "GitLab = gl.json", "json=a=b.json"]) == [
        ("text", None),
        ("sarif", Path("out/r.sarif")),
        ("gitlab", Path(" gl.json")),
        ("json", Path("a=b.json")),
    ]
    assert parse_format_args([]) == []


@pytest.mark.parametrize("value", ["", "=x.sarif", "sarif=", "sarif=  "])
def test_parse_format_args_rejects(value: str) -> None:
    with pytest.raises(UsageError, match="--format"):
        parse_format_args([value])


def test_emit_writes_paths_stdout_and_default_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    con, out, _ = console()
    emit(REPORT, [("text", None), ("sarif", None), ("json", tmp_path / "deep" / "r.json"), ("gitlab", None)],
         RenderContext(color=True), con, annotators())  # fmt: skip
    assert out.getvalue().startswith("a.py:1: ")
    assert json.loads((tmp_path / "symphony-assist.sarif").read_text())["version"] == "2.1.0"
    assert json.loads((tmp_path / "gl-code-quality-report.json").read_text())[0]["check_name"] == "symphony-assist/R"
    assert json.loads((tmp_path / "deep" / "r.json").read_text())["version"] == 1
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no temporary files left


def test_files_never_get_colour(tmp_path: Path) -> None:
    con, _, _ = console()
    emit(REPORT, [("text", tmp_path / "t.txt")], RenderContext(color=True), con, annotators())
    assert "\x1b" not in (tmp_path / "t.txt").read_text()


def test_two_formats_may_not_share_a_file(tmp_path: Path) -> None:
    con, out, _ = console()
    with pytest.raises(UsageError, match="both write to"):
        emit(REPORT, [("json", tmp_path / "x"), ("sarif", tmp_path / "x")], RenderContext(), con, annotators())
    assert out.getvalue() == "" and not (tmp_path / "x").exists()


def test_unknown_format_fails_before_anything_is_written(tmp_path: Path) -> None:
    con, _out, _ = console()
    with pytest.raises(UsageError):
        emit(REPORT, [("json", tmp_path / "x"), ("nope", None)], RenderContext(), con, annotators())
    assert not (tmp_path / "x").exists()


def test_unwritable_path_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    con, _, _ = console()
    with pytest.raises(UsageError, match=r"cannot write the sarif output to .*choose a writable path"):
        emit(REPORT, [("sarif", blocker / "sub" / "x.sarif")], RenderContext(), con, annotators())


def test_github_appends_to_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    con, out, _ = console()
    ctx = RenderContext(step_summary=summary)
    emit(REPORT, [("github", None), ("text", None)], ctx, con, annotators())
    text = summary.read_text()
    assert text.startswith("earlier step\n### symphony-assist review")
    assert "title" in text
    assert [c.name for c in executed(out.getvalue())] == ["error"]


def test_step_summary_failure_is_only_a_notice(tmp_path: Path) -> None:
    con, out, err = console()
    emit(REPORT, [("github", None)], RenderContext(step_summary=tmp_path / "missing" / "s.md"), con, annotators())
    assert "::error" in out.getvalue()
    assert "cannot append to the step summary" in err.getvalue()


def test_no_step_summary_without_github(tmp_path: Path) -> None:
    summary = tmp_path / "s.md"
    con, _, _ = console()
    emit(REPORT, [("text", None)], RenderContext(step_summary=summary), con, annotators())
    assert not summary.exists()


def test_plugin_format_through_emit() -> None:
    con, out, _ = console()
    emit(REPORT, [("upper", None)], RenderContext(), con, annotators() | {"upper": Upper()})
    assert out.getvalue() == "TITLE\n"


@pytest.mark.hardening_hostile_output
def test_lone_surrogates_cannot_break_output(tmp_path: Path) -> None:
    bad = Report(findings=(Finding("a.py", 1, 1, Severity.HIGH, "R", "t\ud800", "m\udfff"),))
    con, out, _ = console()
    emit(bad, [("json", None), ("sarif", tmp_path / "x.sarif")], RenderContext(), con, annotators())
    json.loads(out.getvalue())
    json.loads((tmp_path / "x.sarif").read_text(encoding="utf-8"))


def test_context_from_env(tmp_path: Path) -> None:
    env = {"GITHUB_WORKSPACE": str(tmp_path), "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")}
    ctx = RenderContext.from_env(env, color=True)
    assert ctx.workspace == tmp_path and ctx.step_summary == tmp_path / "s.md" and ctx.color
    bare = RenderContext.from_env({}, root=tmp_path)
    assert bare.workspace == tmp_path and bare.step_summary is None
    assert RenderContext.from_env({}).workspace is None


def test_context_from_process_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", os.fspath(tmp_path))
    assert RenderContext.from_env().workspace == tmp_path


@pytest.mark.hardening_hostile_output
def test_tokens_are_random_hex() -> None:
    a, b = new_token(), new_token()
    assert a != b and len(a) == 32 and int(a, 16) >= 0
    assert RenderContext().token != RenderContext().token


def test_a_format_module_is_imported_only_when_the_format_is_used() -> None:
    """Every review looks the formats up; a cached one prints text and must not import the other five."""
    probe = (
        "import sys\n"
        "from symphony_assist_hooks.plugins import annotators\n"
        "formats = annotators()\n"
        "before = sorted(m for m in sys.modules if m.startswith('symphony_assist_hooks.annotators.'))\n"
        "formats['text'].render\n"
        "after = sorted(m for m in sys.modules if m.startswith('symphony_assist_hooks.annotators.'))\n"
        "print(before, after)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    prefix = "symphony_assist_hooks.annotators."
    base, builtin, text = prefix + "base", prefix + "builtin", prefix + "text"
    assert out.strip() == f"{[base, builtin]} {[base, builtin, text]}"
