"""`symphony-assist eval` as a command: the template choice, a baseline it cannot use, and the text report
of runs with nothing to show in a section (no diff cases, no worst case, no change against a baseline).

Offline runs over the small labelled suite of test_evaluate.py: the local analyzers answer, no model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_evaluate import _run, _small_suite

from symphony_assist_hooks.cli import main
from symphony_assist_hooks.cli.commands import evaluate as command


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    return _small_suite(tmp_path / "cases")


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


# ------------------------------------------------------------------------------------------ usage errors
def test_a_template_that_is_neither_review_nor_explain_is_refused(
    cases: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--offline", "eval", "--cases", str(cases), "--template", "security,general"]) == 2
    line = _one_error(capsys)
    assert "--template general: a 'answer' template; eval measures review and explain templates" in line


def test_two_explain_templates_at_once_are_refused(
    cases: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    (project / ".symphony-assist" / "templates").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n", encoding="utf-8")
    (project / ".symphony-assist" / "templates" / "flaky.md.j2").write_text(
        "{# kind: explain #}\n{# description: why a test is flaky #}\nSay why the test is flaky.\n", encoding="utf-8"
    )
    monkeypatch.chdir(project)
    assert main(["--offline", "eval", "--cases", str(cases), "--template", "testing,flaky"]) == 2
    assert "--template: one explain template at a time, got testing, flaky" in _one_error(capsys)


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot read it (No such file or directory)"),
        ("{figures: 1", "not JSON (Expecting property name enclosed in double quotes); pass the --json output"),
    ],
)
def test_a_baseline_it_cannot_use_is_one_line(
    cases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, said: str
) -> None:
    path = tmp_path / "before.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["--offline", "eval", "--cases", str(cases), "--baseline", str(path)]) == 2
    assert f"--baseline {str(path)!r}: {said}" in _one_error(capsys)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------------------ the report
def test_a_run_without_diff_cases_reports_only_the_failures(cases: Path) -> None:
    code, out, _ = _run(["--offline", "eval", "--cases", str(cases), "--template", "testing"])
    assert code == 0
    assert "(4 cases skipped: no chosen template covers their kind)" in out
    assert "failures  2/2 categorised correctly" in out
    for absent in ("diffs     precision", "clean     ", "family  ", "worst cases"):
        assert absent not in out  # nothing to say about diffs: no empty table


def test_a_baseline_without_check_compares_and_never_fails(cases: Path, tmp_path: Path) -> None:
    code, out, _ = _run(["--offline", "eval", "--cases", str(cases), "--json"])
    assert code == 0
    before = json.loads(out)
    same = tmp_path / "same.json"
    same.write_text(json.dumps(before), encoding="utf-8")
    code, out, err = _run(["--offline", "eval", "--cases", str(cases), "--baseline", str(same)])
    assert code == 0 and err == ""
    assert "compared with the baseline" in out
    assert "  no change in quality" in out
    assert "check:" not in out  # no --check: a comparison, not a verdict

    before["figures"]["recall"] = 1.0  # an earlier run that found everything...
    before["cases"] = [c for c in before["cases"] if c["id"] != "risky/leak"]  # ...on a suite without this case
    before["cases"].append({**before["cases"][0], "id": "risky/retired"})
    better = tmp_path / "better.json"
    better.write_text(json.dumps(before), encoding="utf-8")
    code, out, _ = _run(["--offline", "eval", "--cases", str(cases), "--baseline", str(better)])
    assert code == 0  # worse, but without --check it is only reported
    assert "  added: risky/leak" in out
    assert "  removed: risky/retired" in out
    assert re.search(r"recall\s+1\.000 →\s+0\.\d+\s+worse", out)
    assert "no change in quality" not in out


def test_a_template_without_a_local_analyzer_is_said_once_not_per_case(
    cases: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--offline", "eval", "--cases", str(cases), "--template", "performance"]) == 0
    err = capsys.readouterr().err
    assert err.count("no local analyzer for template 'performance'") == 1


def test_the_web_security_suite_below_a_stricter_bar_fails_the_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = {"web-security": {"overall": 1.0, "margin_over_bandit": 99}}  # a bar no scanner clears
    monkeypatch.setattr(command, "load_thresholds", lambda where: strict)
    assert main(["--offline", "eval", "--suite", "web-security", "--check"]) == 1
    captured = capsys.readouterr()
    problems = [line for line in captured.err.splitlines() if "--check: " in line]
    assert any("is below its floor +1.000" in p for p in problems)
    assert any("margin over bandit" in p and "is below 99" in p for p in problems)
    assert "overall" in captured.out  # the table is still printed
