"""Review pipeline corners: a change that only deletes, a model finding with a severity we do not know,
and a plugin's analyzer and findings filter taking part in a real review (git repository in tmp_path)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from plugin_site import installed_plugin
from responders import answering, finding, numbered_lines

from symphony_assist_hooks.cli import main

SLOW = "import time\n\n\ndef handler(request):\n    time.sleep(5)\n    return request\n"


def _review_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """`symphony-assist [--offline] review --format json [argv]` → (exit code, the report)."""
    offline = [a for a in argv if a == "--offline"]
    code = main([*offline, "review", "--format", "json", *[a for a in argv if a != "--offline"]])
    return code, json.loads(capsys.readouterr().out)


def test_a_change_that_only_deletes_is_reviewed_without_asking_anyone(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit_files({"old.py": "A = 1\nB = 2\nC = 3\n", "app.py": "X = 1\n"})
    git_repo.write("old.py", "A = 1\n")  # lines removed, none added
    git_repo.write("app.py", "X = 1\nY = eval(input())\n")
    git_repo.add()
    code, doc = _review_json(capsys, "--offline")
    assert code == 1
    assert {f["path"] for f in doc["findings"]} == {"app.py"}
    assert doc["summary"]["files"] == 2


def test_an_imported_answer_with_an_unknown_severity_is_dropped_and_counted(
    git_repo: GitRepo, keyed: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cache import` reads any file and a cache hit is not validated again: the pipeline checks each finding."""

    def flag(item_id: str, label: str, content: str) -> list[dict[str, object]]:
        lines = [n for n, added, _ in numbered_lines(content) if added]
        return [finding(lines[0], rule="odd", severity="high"), finding(lines[-1], rule="fine", severity="low")]

    keyed.responder = answering(findings=flag)
    git_repo.commit_files({"README.md": "hi\n"})
    git_repo.write("calc.py", "def total(xs):\n    return sum(xs)\n")
    git_repo.add()
    code, doc = _review_json(capsys)
    assert code == 1 and {o["rule"] for f in doc["findings"] for o in f["sources"]} == {"odd", "fine"}
    export = tmp_path / "answers.jsonl"
    assert main(["cache", "export", str(export)]) == 0
    export.write_text(export.read_text().replace('"severity":"high"', '"severity":"catastrophic"'))
    assert main(["cache", "clear"]) == 0
    assert main(["cache", "import", str(export)]) == 0
    capsys.readouterr()
    code, doc = _review_json(capsys)
    assert {o["rule"] for f in doc["findings"] for o in f["sources"]} == {"fine"}
    assert doc["summary"]["dropped"] == 1
    assert doc["summary"]["cache_hits"] >= 1 and len(keyed.chat_requests) == 1  # answered by the import
    assert code == 0


PLUGIN = '''
from symphony_assist_hooks.findings import Finding, Severity
from symphony_assist_hooks.hookspecs import hookimpl


class SleepAnalyzer:
    """Flags time.sleep in changed lines (the `performance` template has no built-in analyzer)."""

    name = "performance"

    def review(self, targets):
        out = []
        for t in targets:
            for n, text in enumerate(t.text.splitlines(), 1):
                if n in t.changed_lines and "time.sleep(" in text:
                    out.append(Finding(t.path, n, n, Severity.MEDIUM, "blocking-sleep", "sleep in a handler"))
        return out


@hookimpl
def register_analyzers(register):
    register("performance", SleepAnalyzer())


@hookimpl
def process_findings(findings):
    return [f for f in findings if not f.path.startswith("vendor/")]  # a team's own filter
'''


@pytest.fixture
def perf_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with installed_plugin(tmp_path / "site", monkeypatch, "sa_perf", PLUGIN):
        yield


def test_a_plugins_analyzer_and_filter_take_part_in_an_offline_review(
    perf_plugin: None, git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit_files({"README.md": "hi\n"})
    git_repo.write("app/views.py", SLOW)
    git_repo.write("vendor/lib.py", SLOW)
    git_repo.add()
    code, doc = _review_json(capsys, "--offline", "--template", "performance")
    found = [(f["path"], f["line"], f["rule"], f["source"]) for f in doc["findings"]]
    assert found == [("app/views.py", 5, "blocking-sleep", "local")]  # vendor/ filtered out by the plugin
    assert code == 0  # medium: below the default fail_on (high)
