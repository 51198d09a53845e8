"""A pull-request review in GitHub Actions, simulated: GITHUB_ACTIONS=true and a step-summary file."""

from __future__ import annotations

import json
import re
import secrets
import sys
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from responders import answering, numbered_lines

from symphony_assist_hooks.cli import main

sys.path.insert(0, str(Path(__file__).parent / "annotators"))
from actions_runner import executed
from hostile import HOSTILE

pytestmark = pytest.mark.hardening_hostile_output

SEVERITIES = ["critical", "high", "medium", "low"]


def _many_findings(item_id: str, label: str, content: str) -> list[dict[str, object]]:
    out = []
    for local, added, _ in numbered_lines(content):
        if added:
            n = len(out)
            out.append(
                {
                    "checklist": "code_review",
                    "line": local,
                    "end_line": local,
                    "severity": SEVERITIES[n % 4],
                    "rule": f"rule-{n % 4}",
                    "title": HOSTILE[:200],
                    "message": HOSTILE,
                    "suggestion": HOSTILE,
                }
            )
    return out


def test_pull_request_review_in_github_actions(
    git_repo: GitRepo,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(git_repo.path))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + secrets.token_hex(16))
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    base = git_repo.commit_files({"README.md": "x\n"})
    git_repo.commit_files({f"src/m{i}.py": "".join(f"v{j} = {j}\n" for j in range(3)) for i in range(10)})
    fake_openai.responder = answering(findings=_many_findings)
    sarif = tmp_path / "results.sarif"
    code = main(["review", "--rev", f"{base}...HEAD", "--format", "github", "--format", f"sarif={sarif}"])
    assert code == 1
    out = capsys.readouterr().out
    commands = executed(out)
    kinds = [c.name for c in commands]
    assert 0 < kinds.count("error") <= 10
    assert 0 < kinds.count("warning") <= 10
    assert kinds.count("notice") <= 10
    assert len(commands) <= 50
    assert set(kinds) <= {"error", "warning", "notice"}  # no add-mask, stop-commands, group, set-output …
    assert all(c.properties.get("file", "").startswith("src/m") for c in commands if "file" in c.properties)
    text = summary.read_text(encoding="utf-8")
    assert text.count("src/m") >= 30  # all 30 findings listed in the job summary
    assert not re.search(r"(?<!\\)\]\(http", text)  # no live markdown link
    assert not re.search(r"(?<!\\)<img", text)  # no raw HTML image
    doc = json.loads(sarif.read_text())
    assert len(doc["runs"][0]["results"]) == 30
    assert "\x1b" not in out + text
